import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many jobs of a queue started in the last minute, read by GET /api/jobs/:id.json to estimate
 * when a queued job starts (src/jobs/queue-wait.ts): without an index, counting them meant reading
 * every job that ever ran. Only jobs that started have an entry. The claim that sets started_at also
 * changes the status, so no update that was HOT becomes non-HOT; the cost is one more index entry
 * in each non-HOT update of a started job (its start and its end, mostly).
 */
export class JobStarts1796910000000 implements MigrationInterface {
  name = 'JobStarts1796910000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "jobs_started_idx" ON "jobs" ((job_type[1]), "started_at") WHERE started_at IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "jobs_started_idx"`);
  }
}
