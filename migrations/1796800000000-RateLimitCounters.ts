import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rate-limit counters in PostgreSQL, for installations without Redis: every API process counts
 * against the same row, so N processes allow the limit once, not N times. UNLOGGED: a counter
 * lost in a crash only forgives a minute's requests, and skipping the WAL keeps each hit cheap.
 */
export class RateLimitCounters1796800000000 implements MigrationInterface {
  name = 'RateLimitCounters1796800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE UNLOGGED TABLE "rate_limit_counters" (
        "key" text PRIMARY KEY,
        "hits" integer NOT NULL,
        "window_ends" timestamptz NOT NULL,
        "blocked_until" timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX "rate_limit_counters_window_ends" ON "rate_limit_counters" ("window_ends")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "rate_limit_counters"`);
  }
}
