import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which file store the installation uses, recorded by the first process that starts on it
 * (src/storage/storage-identity.ts): a node configured with another store, or one that cannot
 * see the installation's files, is refused at start instead of failing every job it takes.
 */
export class StorageIdentity1796800000001 implements MigrationInterface {
  name = 'StorageIdentity1796800000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "installation" ADD "storage_kind" text, ADD "storage_location" text`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "installation" DROP COLUMN "storage_kind", DROP COLUMN "storage_location"`);
  }
}
