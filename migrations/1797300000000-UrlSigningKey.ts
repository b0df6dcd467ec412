import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The installation's own key for signing public derivative URLs, used when URL_SIGNING_KEY is
 * unset: a laptop's `npm start` signs URLs with no setting, and every node of a scaled
 * installation reads the same key. 256 bits from two gen_random_uuid() calls (PostgreSQL's strong
 * random source; 122 random bits each), hashed.
 */
export class UrlSigningKey1797300000000 implements MigrationInterface {
  name = 'UrlSigningKey1797300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "installation" ADD "url_signing_key" text NOT NULL
         DEFAULT encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')`,
    );
    // The default only filled the one row there is: the key is the migration's, never a new row's.
    await queryRunner.query(`ALTER TABLE "installation" ALTER COLUMN "url_signing_key" DROP DEFAULT`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "installation" DROP COLUMN "url_signing_key"`);
  }
}
