import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a worker's copy of the histograms (src/histograms/histogram-cache.ts) needs to catch up
 * without reading every row again:
 * - `histograms.changed_xid`: the id (pg_current_xact_id(), as a bigint) of the transaction that
 *   wrote the row or last changed what a selection filters it on: its image's owner, type or
 *   creation time. A reader takes the rows at or above its previous snapshot's xmin: every
 *   transaction below that had ended then, so a late commit is never skipped.
 * - `histogram_deletions`: the ids of deleted histograms, cascades included, by the same xid.
 * - `histogram_snapshots`: the binary snapshots of every histogram that workers write to the
 *   installation's storage, each as of its horizon (the xmin of the snapshot it was read in).
 *   Deletions older than every kept snapshot's horizon are pruned with the snapshots.
 */
export class HistogramChangeFeed1797800000000 implements MigrationInterface {
  name = 'HistogramChangeFeed1797800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "histograms" ADD "changed_xid" bigint`);
    await queryRunner.query(`UPDATE "histograms" SET "changed_xid" = pg_current_xact_id()::text::bigint`);
    await queryRunner.query(`ALTER TABLE "histograms" ALTER COLUMN "changed_xid" SET NOT NULL`);
    await queryRunner.query(`CREATE INDEX "histograms_changed_xid_idx" ON "histograms" ("changed_xid")`);
    // A BEFORE trigger, not a column default: it runs before NOT NULL is checked, and on updates.
    await queryRunner.query(`
            CREATE FUNCTION histograms_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              NEW.changed_xid := pg_current_xact_id()::text::bigint;
              RETURN NEW;
            END $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "histograms_stamp_change" BEFORE INSERT OR UPDATE OF image_id, bins ON "histograms"
            FOR EACH ROW EXECUTE FUNCTION histograms_stamp_change()
        `);
    await queryRunner.query(`
            CREATE TABLE "histogram_deletions" (
                "histogram_id" integer NOT NULL,
                "xid" bigint NOT NULL,
                CONSTRAINT "histogram_deletions_pkey" PRIMARY KEY ("histogram_id")
            )
        `);
    await queryRunner.query(`CREATE INDEX "histogram_deletions_xid_idx" ON "histogram_deletions" ("xid")`);
    await queryRunner.query(`
            CREATE FUNCTION histograms_record_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO histogram_deletions (histogram_id, xid) SELECT id, pg_current_xact_id()::text::bigint FROM gone;
              RETURN NULL;
            END $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "histograms_record_deletions" AFTER DELETE ON "histograms"
            REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION histograms_record_deletions()
        `);
    await queryRunner.query(`
            CREATE FUNCTION images_stamp_histogram_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE histograms SET changed_xid = pg_current_xact_id()::text::bigint WHERE image_id = NEW.id;
              RETURN NULL;
            END $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "images_stamp_histogram_change" AFTER UPDATE OF user_id, image_type_id, created_at ON "images"
            FOR EACH ROW
            WHEN ((OLD.user_id, OLD.image_type_id, OLD.created_at) IS DISTINCT FROM (NEW.user_id, NEW.image_type_id, NEW.created_at))
            EXECUTE FUNCTION images_stamp_histogram_change()
        `);
    await queryRunner.query(`
            CREATE TABLE "histogram_snapshots" (
                "id" SERIAL NOT NULL,
                "storage_key" character varying NOT NULL,
                "horizon" bigint NOT NULL,
                "histograms" integer NOT NULL,
                "bytes" bigint NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "histogram_snapshots_pkey" PRIMARY KEY ("id")
            )
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "histogram_snapshots"`);
    await queryRunner.query(`DROP TRIGGER "images_stamp_histogram_change" ON "images"`);
    await queryRunner.query(`DROP FUNCTION images_stamp_histogram_change()`);
    await queryRunner.query(`DROP TRIGGER "histograms_record_deletions" ON "histograms"`);
    await queryRunner.query(`DROP FUNCTION histograms_record_deletions()`);
    await queryRunner.query(`DROP TABLE "histogram_deletions"`);
    await queryRunner.query(`DROP TRIGGER "histograms_stamp_change" ON "histograms"`);
    await queryRunner.query(`DROP FUNCTION histograms_stamp_change()`);
    await queryRunner.query(`DROP INDEX "histograms_changed_xid_idx"`);
    await queryRunner.query(`ALTER TABLE "histograms" DROP COLUMN "changed_xid"`);
  }
}
