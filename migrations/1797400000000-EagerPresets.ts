import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Eager derivatives: presets an upload names (`images.eager_presets`, kept until the image's file
 * arrives, as a JSON create names them before its PUT) and presets an image type names for every
 * image of its type (`image_types.presets`). Both are made as soon as the original is stored.
 * Adding a column with a constant default rewrites no row.
 */
export class EagerPresets1797400000000 implements MigrationInterface {
  name = 'EagerPresets1797400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "images" ADD "eager_presets" character varying(64) array NOT NULL DEFAULT '{}'`);
    await queryRunner.query(`ALTER TABLE "image_types" ADD "presets" character varying(64) array NOT NULL DEFAULT '{}'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "image_types" DROP COLUMN "presets"`);
    await queryRunner.query(`ALTER TABLE "images" DROP COLUMN "eager_presets"`);
  }
}
