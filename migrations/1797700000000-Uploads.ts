import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Resumable uploads (tus, /api/uploads): one row per upload, made when it is created, so that
 * every API node knows its owner, what its metadata asks for and when it expires. Its `state`
 * makes the completion happen once whichever node, or how many retried requests, reach the end:
 * the request that moves it from `receiving` to `completing` makes the image; `completed` keeps
 * the image (and job) that a retry answers with.
 */
export class Uploads1797700000000 implements MigrationInterface {
  name = 'Uploads1797700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "uploads" (
                "id" character varying(64) NOT NULL,
                "user_id" integer NOT NULL,
                "metadata" jsonb NOT NULL,
                "size" bigint NOT NULL,
                "state" character varying(16) NOT NULL DEFAULT 'receiving',
                "claimed_at" timestamptz,
                "image_id" integer,
                "job_id" integer,
                "created_at" timestamptz NOT NULL DEFAULT now(),
                "expires_at" timestamptz NOT NULL,
                CONSTRAINT "uploads_pkey" PRIMARY KEY ("id"),
                CONSTRAINT "uploads_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
                CONSTRAINT "uploads_image_id_fkey" FOREIGN KEY ("image_id") REFERENCES "images"("id") ON DELETE SET NULL ON UPDATE NO ACTION,
                CONSTRAINT "uploads_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE SET NULL ON UPDATE NO ACTION
            )
        `);
    await queryRunner.query(`CREATE INDEX "uploads_user_id_idx" ON "uploads" ("user_id")`);
    await queryRunner.query(`CREATE INDEX "uploads_expires_at_idx" ON "uploads" ("expires_at")`);
    await queryRunner.query(`CREATE INDEX "uploads_image_id_idx" ON "uploads" ("image_id")`);
    await queryRunner.query(`CREATE INDEX "uploads_job_id_idx" ON "uploads" ("job_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "uploads"`);
  }
}
