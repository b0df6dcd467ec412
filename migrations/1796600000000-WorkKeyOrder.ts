import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reusable work is looked up by its key, oldest image first, a bounded number of rows a key
 * (src/work-reuse/reusable-work.repository.ts): indexed by (work_key, id), a popular photo's
 * thousands of reuses are no longer all read to find its first few files.
 */
export class WorkKeyOrder1796600000000 implements MigrationInterface {
  name = 'WorkKeyOrder1796600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."images_work_key_idx"`);
    await queryRunner.query(`CREATE INDEX "images_work_key_id_idx" ON "images" ("work_key", "id") WHERE work_key IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."images_work_key_id_idx"`);
    await queryRunner.query(`CREATE INDEX "images_work_key_idx" ON "images" ("work_key") WHERE work_key IS NOT NULL`);
  }
}
