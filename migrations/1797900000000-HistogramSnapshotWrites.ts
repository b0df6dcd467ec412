import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `histogram_snapshots.complete`: a snapshot's row is now written before its file, and marked
 * complete once the file is stored. A worker that dies while writing a snapshot (hundreds of MB at
 * a million histograms) leaves an incomplete row naming its file, which the next writer deletes;
 * before, it left a file in storage that no row named and nothing would ever delete. Readers take
 * complete snapshots only. The rows already there were written after their files: complete.
 */
export class HistogramSnapshotWrites1797900000000 implements MigrationInterface {
  name = 'HistogramSnapshotWrites1797900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "histogram_snapshots" ADD "complete" boolean NOT NULL DEFAULT true`);
    await queryRunner.query(`ALTER TABLE "histogram_snapshots" ALTER COLUMN "complete" SET DEFAULT false`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "histogram_snapshots" WHERE NOT "complete"`);
    await queryRunner.query(`ALTER TABLE "histogram_snapshots" DROP COLUMN "complete"`);
  }
}
