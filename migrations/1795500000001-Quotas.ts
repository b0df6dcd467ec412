import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Quotas per user. users.storage_bytes is a counter cache of the sum of the user's images.bytes
 * (originals and outputs), kept exact by statement-level triggers in the transaction that inserts,
 * deletes or updates the images, as users.image_count is; so a quota check reads one row.
 * max_jobs_in_progress and max_storage_bytes are an admin's per-user limits (null: the default of
 * the configuration). jobs_user_id_unfinished_idx makes counting a user's queued and running
 * jobs cheap.
 */
export class Quotas1795500000001 implements MigrationInterface {
  name = 'Quotas1795500000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "users"
            ADD "storage_bytes" bigint NOT NULL DEFAULT '0',
            ADD "max_jobs_in_progress" integer,
            ADD "max_storage_bytes" bigint
        `);
    await queryRunner.query(`
            CREATE INDEX "jobs_user_id_unfinished_idx" ON "jobs" ("user_id")
            WHERE status IN ('queued', 'running')
        `);
    await queryRunner.query(`
            CREATE FUNCTION maintain_user_storage() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                deltas text;
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    deltas := 'SELECT user_id, sum(bytes) AS delta FROM new_rows WHERE bytes IS NOT NULL GROUP BY user_id';
                ELSIF TG_OP = 'DELETE' THEN
                    deltas := 'SELECT user_id, -sum(bytes) AS delta FROM old_rows WHERE bytes IS NOT NULL GROUP BY user_id';
                ELSE
                    deltas := 'SELECT user_id, sum(delta) AS delta FROM ('
                        || 'SELECT user_id, bytes::bigint AS delta FROM new_rows WHERE bytes IS NOT NULL '
                        || 'UNION ALL SELECT user_id, -bytes::bigint FROM old_rows WHERE bytes IS NOT NULL) changes '
                        || 'GROUP BY user_id HAVING sum(delta) <> 0';
                END IF;
                EXECUTE 'UPDATE users SET storage_bytes = users.storage_bytes + d.delta FROM ('
                    || deltas || ') d WHERE users.id = d.user_id AND d.delta <> 0';
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_storage_insert" AFTER INSERT ON "images"
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_storage()
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_storage_delete" AFTER DELETE ON "images"
            REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_storage()
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_storage_update" AFTER UPDATE ON "images"
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_storage()
        `);
    await queryRunner.query(`
            UPDATE users SET storage_bytes = s.bytes
            FROM (SELECT user_id, sum(bytes) AS bytes FROM images WHERE bytes IS NOT NULL GROUP BY user_id) s
            WHERE users.id = s.user_id
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const event of ['insert', 'delete', 'update']) {
      await queryRunner.query(`DROP TRIGGER "images_storage_${event}" ON "images"`);
    }
    await queryRunner.query(`DROP FUNCTION maintain_user_storage()`);
    await queryRunner.query(`DROP INDEX "jobs_user_id_unfinished_idx"`);
    await queryRunner.query(`
            ALTER TABLE "users"
            DROP COLUMN "max_storage_bytes",
            DROP COLUMN "max_jobs_in_progress",
            DROP COLUMN "storage_bytes"
        `);
  }
}
