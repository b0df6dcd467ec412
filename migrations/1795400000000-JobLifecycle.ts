import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The job lifecycle: an installation id that namespaces this database's queue entries, a
 * delivery id per enqueued attempt (queue entries are named by it, so a retry or a re-enqueue
 * never collides with an entry that already ended), and an index for the reconciler's scan of
 * unfinished jobs.
 */
export class JobLifecycle1795400000000 implements MigrationInterface {
  name = 'JobLifecycle1795400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "installation" (
                "id" character varying(32) NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "installation_pkey" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            INSERT INTO "installation" ("id") VALUES (left(replace(gen_random_uuid()::text, '-', ''), 16))
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "delivery_id" uuid NOT NULL DEFAULT gen_random_uuid()
        `);
    await queryRunner.query(`
            CREATE INDEX "jobs_unfinished_idx" ON "jobs" ("id")
            WHERE status IN ('queued', 'running')
        `);
    await queryRunner.query(`
            CREATE INDEX "jobs_status_idx" ON "jobs" ("status")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "jobs_status_idx"`);
    await queryRunner.query(`DROP INDEX "jobs_unfinished_idx"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "delivery_id"`);
    await queryRunner.query(`DROP TABLE "installation"`);
  }
}
