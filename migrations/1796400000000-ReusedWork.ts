import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * No redundant work. A process step's output records the key of the work that made it
 * (`work_key`: a hash of its input file's sha256, the operation, its version, its params and the
 * encoder's settings); a later step with the same key records a new image that points at the same
 * stored file instead of computing it again. Several images may then share an `s3_key`, and a file
 * is deleted only with the last image that points at it (the index answers "who else points
 * here"). `jobs.force` recomputes every step anyway; `jobs.reused_steps` lists the steps that were
 * not computed.
 */
export class ReusedWork1796400000000 implements MigrationInterface {
  name = 'ReusedWork1796400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "images" ADD "work_key" character(64)`);
    await queryRunner.query(`CREATE INDEX "images_work_key_idx" ON "images" ("work_key") WHERE work_key IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "images_s3_key_idx" ON "images" ("s3_key") WHERE s3_key IS NOT NULL`);
    await queryRunner.query(`
            ALTER TABLE "jobs"
            ADD "force" boolean NOT NULL DEFAULT false,
            ADD "reused_steps" smallint array NOT NULL DEFAULT '{}'
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "reused_steps", DROP COLUMN "force"`);
    await queryRunner.query(`DROP INDEX "public"."images_s3_key_idx"`);
    await queryRunner.query(`DROP INDEX "public"."images_work_key_idx"`);
    await queryRunner.query(`ALTER TABLE "images" DROP COLUMN "work_key"`);
  }
}
