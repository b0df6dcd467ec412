import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fair queues (docs/queues.md). A queued job is first pending (dispatched_at NULL), then
 * dispatched: given a queue entry by the dispatcher, which picks lane, user and cap in
 * PostgreSQL. Jobs already queued at the upgrade already have their entries, so they start out
 * dispatched. queue_states holds what an admin sets per queue (pause), so that it outlives
 * restarts and the queue's own store.
 */
export class FairQueues1796900000000 implements MigrationInterface {
  name = 'FairQueues1796900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "jobs" ADD "lane" varchar(16) NOT NULL DEFAULT 'interactive'`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "dispatched_at" timestamptz`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "run_after" timestamptz`);
    await queryRunner.query(`UPDATE "jobs" SET "dispatched_at" = now() WHERE "status" = 'queued'`);
    await queryRunner.query(
      `CREATE INDEX "jobs_pending_idx" ON "jobs" ((job_type[1]), "lane", "user_id", "id") WHERE status = 'queued' AND dispatched_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "jobs_in_flight_idx" ON "jobs" ("user_id", (job_type[1]), "lane")
        WHERE status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL)`,
    );
    // Each user's last dispatch in a queue, for the turns (JobDispatcher): a backward scan of one entry.
    await queryRunner.query(
      `CREATE INDEX "jobs_user_dispatches_idx" ON "jobs" ("user_id", (job_type[1]), "dispatched_at") WHERE dispatched_at IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE "queue_states" (
        "name" varchar(16) PRIMARY KEY,
        "paused" boolean NOT NULL DEFAULT false,
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`INSERT INTO "queue_states" ("name") VALUES ('process'), ('query'), ('search')`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "queue_states"`);
    await queryRunner.query(`DROP INDEX "jobs_user_dispatches_idx"`);
    await queryRunner.query(`DROP INDEX "jobs_in_flight_idx"`);
    await queryRunner.query(`DROP INDEX "jobs_pending_idx"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "run_after"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "dispatched_at"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "lane"`);
  }
}
