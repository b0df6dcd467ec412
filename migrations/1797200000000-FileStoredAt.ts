import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When each image's stored file was recorded: `GET /api/images/:id/file` answers it as
 * Last-Modified. `updated_at` is not it, since renaming the type or moving the owner changes it too.
 *
 * A trigger sets it rather than each writer: files are recorded by an upload's UPDATE, by the
 * worker's darkroom_record_attempts and by reused work's INSERT, and nodes of the previous
 * release, still running during a rolling upgrade, record files without knowing the column.
 * It moves only when `s3_key` does: every stored file gets a key of its own.
 *
 * Existing files: the latest time they can have been recorded, so that a client holding an older
 * copy is never told that it is current. An output's file is never replaced, so its row's creation
 * is exact; an original may have been uploaded after its row was made, by the row's last change at
 * the latest.
 */
export class FileStoredAt1797200000000 implements MigrationInterface {
  name = 'FileStoredAt1797200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "images" ADD "file_stored_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`
            CREATE FUNCTION images_file_stored_at() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.s3_key IS NULL THEN
                    NEW.file_stored_at := NULL;
                ELSIF TG_OP = 'INSERT' OR NEW.s3_key IS DISTINCT FROM OLD.s3_key THEN
                    NEW.file_stored_at := now();
                END IF;
                RETURN NEW;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_file_stored_at" BEFORE INSERT OR UPDATE OF "s3_key" ON "images"
            FOR EACH ROW EXECUTE FUNCTION images_file_stored_at()
        `);
    await queryRunner.query(`
            UPDATE "images" SET "file_stored_at" = CASE WHEN "status" = 'processed' THEN "created_at" ELSE "updated_at" END
             WHERE "s3_key" IS NOT NULL
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "images_file_stored_at" ON "images"`);
    await queryRunner.query(`DROP FUNCTION images_file_stored_at()`);
    await queryRunner.query(`ALTER TABLE "images" DROP COLUMN "file_stored_at"`);
  }
}
