import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * histograms.bins_packed: the bins as 1 KB of big-endian int32s (PostgreSQL's own int4send), kept
 * by a trigger from `bins` whoever writes the row, so an aggregate reads bytes, not array text.
 */
export class PackedHistograms1795396645119 implements MigrationInterface {
  name = 'PackedHistograms1795396645119';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "histograms"
            ADD CONSTRAINT "histograms_bins_length_check" CHECK (cardinality(bins) = 256)
        `);
    await queryRunner.query(`
            CREATE FUNCTION pack_histogram_bins() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.bins_packed := (
                    SELECT string_agg(int4send(bin), ''::bytea ORDER BY position)
                    FROM unnest(NEW.bins) WITH ORDINALITY AS bins(bin, position)
                );
                RETURN NEW;
            END
            $$
        `);
    await queryRunner.query(`
            ALTER TABLE "histograms"
            ADD "bins_packed" bytea
        `);
    await queryRunner.query(`
            CREATE TRIGGER "histograms_pack_bins" BEFORE INSERT OR UPDATE OF bins ON "histograms"
            FOR EACH ROW EXECUTE FUNCTION pack_histogram_bins()
        `);
    // Rewriting bins fires the trigger, which packs the rows written before it existed.
    await queryRunner.query(`UPDATE "histograms" SET "bins" = "bins"`);
    await queryRunner.query(`
            ALTER TABLE "histograms" ALTER COLUMN "bins_packed" SET NOT NULL
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "histograms_pack_bins" ON "histograms"`);
    await queryRunner.query(`DROP FUNCTION pack_histogram_bins()`);
    await queryRunner.query(`ALTER TABLE "histograms" DROP COLUMN "bins_packed"`);
    await queryRunner.query(`ALTER TABLE "histograms" DROP CONSTRAINT "histograms_bins_length_check"`);
  }
}
