import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The counter caches users.jobs_count, image_count and storage_bytes stop being rows that every
 * transaction updates (docs/counters.md). They become a base, kept in users, plus the rows of
 * user_usage_deltas, which the triggers append to and a pass folds into the base now and then
 * (fold_user_usage_deltas); a reader sums the two in one statement, so every answer is exact.
 * No trigger fires on a job's update any more (a job's owner never changes), and an image's only
 * when its owner or its bytes change. Every trigger runs static SQL, planned once per session.
 *
 * The quota checks serialise on rows only their own writers lock: a user's job creations and
 * retries on the user's row (reserve_job_slots, which no worker statement touches any more), the
 * writes that add stored bytes on the user's row of user_storage_locks (lock_user_storage).
 */
export class UsageDeltas1796700000002 implements MigrationInterface {
  name = 'UsageDeltas1796700000002';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['images', 'jobs']) {
      for (const event of ['insert', 'delete', 'update']) {
        await queryRunner.query(`DROP TRIGGER "${table}_count_${event}" ON "${table}"`);
      }
    }
    for (const event of ['insert', 'delete', 'update']) {
      await queryRunner.query(`DROP TRIGGER "images_storage_${event}" ON "images"`);
    }
    await queryRunner.query(`DROP FUNCTION maintain_user_counter()`);
    await queryRunner.query(`DROP FUNCTION maintain_user_storage()`);

    // No foreign key: a user's deletion leaves the deltas its cascade wrote, which the fold drops.
    await queryRunner.query(`
            CREATE TABLE "user_usage_deltas" (
                "user_id" integer NOT NULL,
                "images" integer NOT NULL DEFAULT 0,
                "jobs" integer NOT NULL DEFAULT 0,
                "bytes" bigint NOT NULL DEFAULT 0
            )
        `);
    await queryRunner.query(`CREATE INDEX "user_usage_deltas_user_id_idx" ON "user_usage_deltas" ("user_id")`);
    await queryRunner.query(`
            CREATE FUNCTION record_job_usage() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO user_usage_deltas (user_id, jobs) SELECT user_id, count(*) FROM new_rows GROUP BY user_id;
                ELSE
                    INSERT INTO user_usage_deltas (user_id, jobs) SELECT user_id, -count(*) FROM old_rows GROUP BY user_id;
                END IF;
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE FUNCTION record_image_usage() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO user_usage_deltas (user_id, images, bytes)
                    SELECT user_id, count(*), coalesce(sum(bytes), 0) FROM new_rows GROUP BY user_id;
                ELSE
                    INSERT INTO user_usage_deltas (user_id, images, bytes)
                    SELECT user_id, -count(*), -coalesce(sum(bytes), 0) FROM old_rows GROUP BY user_id;
                END IF;
                RETURN NULL;
            END
            $$
        `);
    // An admin gives an image to another user (PUT /api/images/:id {user_id}), or its file is replaced.
    await queryRunner.query(`
            CREATE FUNCTION record_image_usage_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO user_usage_deltas (user_id, images, bytes)
                VALUES (OLD.user_id, -1, -coalesce(OLD.bytes, 0)), (NEW.user_id, 1, coalesce(NEW.bytes, 0));
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "jobs_usage_insert" AFTER INSERT ON "jobs"
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION record_job_usage()
        `);
    await queryRunner.query(`
            CREATE TRIGGER "jobs_usage_delete" AFTER DELETE ON "jobs"
            REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION record_job_usage()
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_usage_insert" AFTER INSERT ON "images"
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION record_image_usage()
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_usage_delete" AFTER DELETE ON "images"
            REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION record_image_usage()
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_usage_update" AFTER UPDATE OF "user_id", "bytes" ON "images"
            FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.bytes IS DISTINCT FROM NEW.bytes)
            EXECUTE FUNCTION record_image_usage_change()
        `);

    // The users rows are locked in id order, as reserve_job_slots locks them, so the two never deadlock.
    await queryRunner.query(`
            CREATE FUNCTION fold_user_usage_deltas() RETURNS integer LANGUAGE plpgsql AS $$
            DECLARE
                owners integer[];
                folded integer;
            BEGIN
                SELECT array_agg(id) INTO owners FROM (
                    SELECT u.id FROM users u WHERE u.id IN (SELECT d.user_id FROM user_usage_deltas d) ORDER BY u.id FOR NO KEY UPDATE OF u
                ) locked;
                WITH moved AS (
                    DELETE FROM user_usage_deltas d
                     WHERE d.user_id = ANY (owners) OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id)
                    RETURNING d.user_id, d.images, d.jobs, d.bytes
                ), sums AS (
                    SELECT m.user_id, sum(m.images) AS images, sum(m.jobs) AS jobs, sum(m.bytes) AS bytes, count(*) AS rows
                      FROM moved m GROUP BY m.user_id
                ), applied AS (
                    UPDATE users u SET image_count = u.image_count + s.images, jobs_count = u.jobs_count + s.jobs,
                           storage_bytes = u.storage_bytes + s.bytes
                      FROM sums s WHERE u.id = s.user_id AND (s.images <> 0 OR s.jobs <> 0 OR s.bytes <> 0)
                )
                SELECT coalesce(sum(s.rows), 0) INTO folded FROM sums s;
                RETURN folded;
            END
            $$
        `);

    await queryRunner.query(`
            CREATE FUNCTION reserve_job_slots(owners integer[], wanted integer[], default_limit integer)
            RETURNS TABLE (user_id integer, known boolean, used integer, job_limit integer, granted integer)
            LANGUAGE plpgsql AS $$
            #variable_conflict use_column
            BEGIN
                PERFORM 1 FROM users u WHERE u.id = ANY (owners) ORDER BY u.id FOR NO KEY UPDATE;
                -- A new statement, so a new snapshot: it sees every job the lock's previous holders committed.
                RETURN QUERY
                SELECT o.id, u.id IS NOT NULL, c.used, coalesce(u.max_jobs_in_progress, default_limit),
                       CASE WHEN u.id IS NULL THEN 0
                            ELSE greatest(0, least(o.wanted, coalesce(u.max_jobs_in_progress, default_limit) - c.used)) END
                  FROM unnest(owners, wanted) AS o(id, wanted)
                  LEFT JOIN users u ON u.id = o.id
                 CROSS JOIN LATERAL (
                       SELECT count(*)::integer AS used FROM jobs j WHERE j.user_id = o.id AND j.status IN ('queued', 'running')
                 ) c
                 ORDER BY o.id;
            END
            $$
        `);

    await queryRunner.query(`
            CREATE TABLE "user_storage_locks" (
                "user_id" integer NOT NULL,
                CONSTRAINT "user_storage_locks_pkey" PRIMARY KEY ("user_id"),
                CONSTRAINT "user_storage_locks_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
            )
        `);
    await queryRunner.query(`
            CREATE FUNCTION lock_user_storage(owner integer)
            RETURNS TABLE (storage_bytes bigint, max_storage_bytes bigint)
            LANGUAGE plpgsql AS $$
            #variable_conflict use_column
            BEGIN
                INSERT INTO user_storage_locks (user_id) SELECT u.id FROM users u WHERE u.id = owner ON CONFLICT (user_id) DO NOTHING;
                PERFORM 1 FROM user_storage_locks l WHERE l.user_id = owner FOR NO KEY UPDATE;
                -- A new statement, so a new snapshot: it sees the bytes the lock's previous holders committed.
                RETURN QUERY
                SELECT (u.storage_bytes + coalesce((SELECT sum(d.bytes) FROM user_usage_deltas d WHERE d.user_id = u.id), 0))::bigint,
                       u.max_storage_bytes
                  FROM users u WHERE u.id = owner;
            END
            $$
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION lock_user_storage(integer)`);
    await queryRunner.query(`DROP TABLE "user_storage_locks"`);
    await queryRunner.query(`DROP FUNCTION reserve_job_slots(integer[], integer[], integer)`);
    await queryRunner.query(`DROP FUNCTION fold_user_usage_deltas()`);
    for (const trigger of ['jobs_usage_insert', 'jobs_usage_delete']) await queryRunner.query(`DROP TRIGGER "${trigger}" ON "jobs"`);
    for (const trigger of ['images_usage_insert', 'images_usage_delete', 'images_usage_update']) {
      await queryRunner.query(`DROP TRIGGER "${trigger}" ON "images"`);
    }
    await queryRunner.query(`DROP FUNCTION record_image_usage_change()`);
    await queryRunner.query(`DROP FUNCTION record_image_usage()`);
    await queryRunner.query(`DROP FUNCTION record_job_usage()`);
    await queryRunner.query(`
            UPDATE users SET
                jobs_count = (SELECT count(*) FROM jobs WHERE jobs.user_id = users.id),
                image_count = (SELECT count(*) FROM images WHERE images.user_id = users.id),
                storage_bytes = (SELECT coalesce(sum(bytes), 0) FROM images WHERE images.user_id = users.id)
        `);
    await queryRunner.query(`DROP TABLE "user_usage_deltas"`);

    // The triggers and functions of InitialSchema1795392934373 and Quotas1795500000001, as they were.
    await queryRunner.query(`
            CREATE FUNCTION maintain_user_counter() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                deltas text;
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    deltas := 'SELECT user_id, count(*) AS delta FROM new_rows GROUP BY user_id';
                ELSIF TG_OP = 'DELETE' THEN
                    deltas := 'SELECT user_id, -count(*) AS delta FROM old_rows GROUP BY user_id';
                ELSE
                    deltas := 'SELECT user_id, sum(delta) AS delta FROM ('
                        || 'SELECT user_id, 1 AS delta FROM new_rows '
                        || 'UNION ALL SELECT user_id, -1 FROM old_rows) moves '
                        || 'GROUP BY user_id HAVING sum(delta) <> 0';
                END IF;
                EXECUTE format(
                    'UPDATE users SET %1$I = users.%1$I + d.delta FROM (%2$s) d WHERE users.id = d.user_id',
                    TG_ARGV[0], deltas);
                RETURN NULL;
            END
            $$
        `);
    for (const { table, column } of [
      { table: 'images', column: 'image_count' },
      { table: 'jobs', column: 'jobs_count' },
    ]) {
      await queryRunner.query(`
                CREATE TRIGGER "${table}_count_insert" AFTER INSERT ON "${table}"
                REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_counter('${column}')
            `);
      await queryRunner.query(`
                CREATE TRIGGER "${table}_count_delete" AFTER DELETE ON "${table}"
                REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_counter('${column}')
            `);
      await queryRunner.query(`
                CREATE TRIGGER "${table}_count_update" AFTER UPDATE ON "${table}"
                REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_counter('${column}')
            `);
    }
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
    for (const [event, transition] of [
      ['insert', 'NEW TABLE AS new_rows'],
      ['delete', 'OLD TABLE AS old_rows'],
      ['update', 'OLD TABLE AS old_rows NEW TABLE AS new_rows'],
    ]) {
      await queryRunner.query(`
                CREATE TRIGGER "images_storage_${event}" AFTER ${event.toUpperCase()} ON "images"
                REFERENCING ${transition}
                FOR EACH STATEMENT EXECUTE FUNCTION maintain_user_storage()
            `);
    }
  }
}
