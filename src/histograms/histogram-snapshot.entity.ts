import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A binary snapshot of every histogram (histogram-snapshot-file.ts) in the installation's storage,
 * as of `horizon`: the xmin of the database snapshot it was read in, so that a worker loading it
 * catches up from the histograms changed at or above it.
 */
@Entity('histogram_snapshots')
export class HistogramSnapshot {
  @PrimaryGeneratedColumn({ primaryKeyConstraintName: 'histogram_snapshots_pkey' })
  id: number;

  @Column({ type: 'varchar' })
  storageKey: string;

  @Column({ type: 'bigint' })
  horizon: string;

  @Column({ type: 'integer' })
  histograms: number;

  @Column({ type: 'bigint' })
  bytes: string;

  /** The file is stored: until then the row names a file being written, or left by a writer that died. */
  @Column({ type: 'boolean', default: false })
  complete: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
