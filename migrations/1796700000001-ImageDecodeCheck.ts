import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Uploads get a structural check only; the one full decode of an original happens in the worker
 * (docs/upload-check.md). `verified_at` records when it succeeded or failed, `corrupt_reason` the
 * decoder's reason for an image found `corrupt`. The partial index holds only the originals still
 * waiting for it, which the worker's pass (src/worker/image-verifier.ts) reads. Originals stored
 * before this were fully decoded at upload: they count as verified.
 */
export class ImageDecodeCheck1796700000001 implements MigrationInterface {
  name = 'ImageDecodeCheck1796700000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "images" ADD "corrupt_reason" text`);
    await queryRunner.query(`ALTER TABLE "images" ADD "verified_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`UPDATE "images" SET "verified_at" = "updated_at" WHERE "status" = 'original stored'`);
    await queryRunner.query(
      `CREATE INDEX "images_unverified_idx" ON "images" ("id") WHERE verified_at IS NULL AND status = 'original stored'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."images_unverified_idx"`);
    await queryRunner.query(`UPDATE "images" SET "status" = 'original stored' WHERE "status" = 'corrupt'`);
    await queryRunner.query(`ALTER TABLE "images" DROP COLUMN "verified_at"`);
    await queryRunner.query(`ALTER TABLE "images" DROP COLUMN "corrupt_reason"`);
  }
}
