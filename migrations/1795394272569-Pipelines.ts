import { MigrationInterface, QueryRunner } from 'typeorm';

export class Pipelines1795394272569 implements MigrationInterface {
  name = 'Pipelines1795394272569';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "histograms" (
                "id" SERIAL NOT NULL,
                "image_id" integer NOT NULL,
                "job_id" integer,
                "bins" integer array NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_137ed7ca33d027d3de6f853e575" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "histograms_image_id_key" ON "histograms" ("image_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "histograms_job_id_idx" ON "histograms" ("job_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "histograms_created_at_idx" ON "histograms" ("created_at")
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD "width" integer
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD "height" integer
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD "format" character varying(16)
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD "bytes" integer
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD "sha256" character(64)
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD "job_id" integer
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD "step_index" smallint
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "params" jsonb NOT NULL DEFAULT '{}'
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "progress" smallint NOT NULL DEFAULT '0'
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "attempts" integer NOT NULL DEFAULT '0'
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "max_attempts" integer NOT NULL DEFAULT '3'
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "timeout" integer NOT NULL DEFAULT '300'
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "ttl" integer
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "started_at" TIMESTAMP WITH TIME ZONE
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "finished_at" TIMESTAMP WITH TIME ZONE
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "error" text
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "output_image_ids" integer array NOT NULL DEFAULT '{}'
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD CONSTRAINT "images_job_id_step_index_key" UNIQUE ("job_id", "step_index")
        `);
    await queryRunner.query(`
            ALTER TABLE "images"
            ADD CONSTRAINT "images_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "histograms"
            ADD CONSTRAINT "histograms_image_id_fkey" FOREIGN KEY ("image_id") REFERENCES "images"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "histograms"
            ADD CONSTRAINT "histograms_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "histograms" DROP CONSTRAINT "histograms_job_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "histograms" DROP CONSTRAINT "histograms_image_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP CONSTRAINT "images_job_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP CONSTRAINT "images_job_id_step_index_key"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "output_image_ids"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "error"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "finished_at"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "started_at"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "ttl"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "timeout"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "max_attempts"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "attempts"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "progress"
        `);
    await queryRunner.query(`
            ALTER TABLE "jobs" DROP COLUMN "params"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP COLUMN "step_index"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP COLUMN "job_id"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP COLUMN "sha256"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP COLUMN "bytes"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP COLUMN "format"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP COLUMN "height"
        `);
    await queryRunner.query(`
            ALTER TABLE "images" DROP COLUMN "width"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."histograms_created_at_idx"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."histograms_job_id_idx"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."histograms_image_id_key"
        `);
    await queryRunner.query(`
            DROP TABLE "histograms"
        `);
  }
}
