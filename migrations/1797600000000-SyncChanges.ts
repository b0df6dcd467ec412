import { MigrationInterface, QueryRunner } from 'typeorm';

/** What a client sees of an image: a change of any other column alone (verified_at, updated_at…) is no change to sync. */
const IMAGE_SHOWN = [
  'status',
  's3_key',
  'image_type_id',
  'user_id',
  'original_id',
  'width',
  'height',
  'blurhash',
  'dominant_color',
  'format',
  'bytes',
  'sha256',
  'job_id',
  'corrupt_reason',
];

/** What a client sees of a job: its delivery, dispatch and backoff bookkeeping is not. */
const JOB_SHOWN = [
  'status',
  'lane',
  'environment',
  'job_type',
  'user_id',
  'image_id',
  'params',
  'progress',
  'attempts',
  'max_attempts',
  'timeout',
  'ttl',
  'error',
  'result',
  'output_image_ids',
  'force',
  'reused_steps',
  'callback_url',
  'started_at',
  'finished_at',
];

const changed = (columns: string[]) =>
  `(${columns.map((column) => `OLD."${column}"`).join(', ')}) IS DISTINCT FROM (${columns.map((column) => `NEW."${column}"`).join(', ')})`;

/**
 * Delta sync (GET /api/sync.json): one row per (kind, record, owner) in `sync_changes`, naming the
 * transaction that last changed what its owner sees of the record, and whether that change was its
 * deletion (a tombstone). Triggers keep it, so every writer, cascades included (a user's deletion,
 * an original taking its derivatives), records its changes without knowing of sync.
 *
 * `xid` is the writing transaction's 64-bit id (pg_current_xact_id()), not a sequence drawn from
 * a clock or a counter: a reader answers only rows of transactions below its snapshot's xmin, all
 * of which have ended, so a transaction that commits late can never land behind a client's cursor.
 * A record that moves to another user leaves a tombstone with its old owner.
 *
 * `installation.sync_purged_through` is the highest xid of the tombstones purged so far: a cursor
 * at or below it may have missed one, and is told to start over.
 *
 * The existing rows are recorded as changed by this migration's transaction.
 */
export class SyncChanges1797600000000 implements MigrationInterface {
  name = 'SyncChanges1797600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "sync_changes" (
                "kind" character varying(8) NOT NULL,
                "record_id" integer NOT NULL,
                "user_id" integer NOT NULL,
                "xid" bigint NOT NULL,
                "deleted" boolean NOT NULL,
                "changed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "sync_changes_pkey" PRIMARY KEY ("kind", "record_id", "user_id")
            )
        `);
    await queryRunner.query(`CREATE INDEX "sync_changes_user_xid_idx" ON "sync_changes" ("user_id", "xid", "kind", "record_id")`);
    await queryRunner.query(`CREATE INDEX "sync_changes_tombstones_idx" ON "sync_changes" ("changed_at") WHERE deleted`);
    await queryRunner.query(`ALTER TABLE "installation" ADD "sync_purged_through" bigint NOT NULL DEFAULT '0'`);
    // Inserts and deletes come in bulk (a batch, the injector, a user's deletion): one statement
    // each, over the statement's rows. Updates come one row at a time, and most change nothing a
    // client sees (a job's delivery, its dispatch): a row trigger's WHEN clause spares those the call.
    await queryRunner.query(`
            CREATE FUNCTION record_sync_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO sync_changes (kind, record_id, user_id, xid, deleted)
                SELECT TG_ARGV[0], id, user_id, pg_current_xact_id()::text::bigint, false FROM new_rows
                ON CONFLICT (kind, record_id, user_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = false, changed_at = now();
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE FUNCTION record_sync_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO sync_changes (kind, record_id, user_id, xid, deleted)
                SELECT TG_ARGV[0], id, user_id, pg_current_xact_id()::text::bigint, true FROM old_rows
                ON CONFLICT (kind, record_id, user_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = true, changed_at = now();
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE FUNCTION record_sync_update() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                writer bigint := pg_current_xact_id()::text::bigint;
            BEGIN
                IF OLD.user_id <> NEW.user_id THEN
                    INSERT INTO sync_changes (kind, record_id, user_id, xid, deleted) VALUES (TG_ARGV[0], OLD.id, OLD.user_id, writer, true)
                    ON CONFLICT (kind, record_id, user_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = true, changed_at = now();
                END IF;
                INSERT INTO sync_changes (kind, record_id, user_id, xid, deleted) VALUES (TG_ARGV[0], NEW.id, NEW.user_id, writer, false)
                ON CONFLICT (kind, record_id, user_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = false, changed_at = now();
                RETURN NULL;
            END
            $$
        `);
    for (const [table, kind, shown] of [
      ['images', 'image', IMAGE_SHOWN],
      ['jobs', 'job', JOB_SHOWN],
    ] as const) {
      await queryRunner.query(`
            CREATE TRIGGER "${table}_sync_insert" AFTER INSERT ON "${table}"
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_sync_inserts('${kind}')
        `);
      await queryRunner.query(`
            CREATE TRIGGER "${table}_sync_delete" AFTER DELETE ON "${table}"
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION record_sync_deletes('${kind}')
        `);
      await queryRunner.query(`
            CREATE TRIGGER "${table}_sync_update" AFTER UPDATE ON "${table}"
            FOR EACH ROW WHEN (${changed(shown)}) EXECUTE FUNCTION record_sync_update('${kind}')
        `);
      await queryRunner.query(`
            INSERT INTO sync_changes (kind, record_id, user_id, xid, deleted)
            SELECT '${kind}', id, user_id, pg_current_xact_id()::text::bigint, false FROM "${table}"
        `);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['jobs', 'images']) {
      await queryRunner.query(`DROP TRIGGER "${table}_sync_update" ON "${table}"`);
      await queryRunner.query(`DROP TRIGGER "${table}_sync_delete" ON "${table}"`);
      await queryRunner.query(`DROP TRIGGER "${table}_sync_insert" ON "${table}"`);
    }
    await queryRunner.query(`DROP FUNCTION record_sync_update()`);
    await queryRunner.query(`DROP FUNCTION record_sync_deletes()`);
    await queryRunner.query(`DROP FUNCTION record_sync_inserts()`);
    await queryRunner.query(`ALTER TABLE "installation" DROP COLUMN "sync_purged_through"`);
    await queryRunner.query(`DROP TABLE "sync_changes"`);
  }
}
