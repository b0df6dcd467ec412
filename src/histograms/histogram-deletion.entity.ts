import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A deleted histogram, recorded by the HistogramChangeFeed migration's trigger for the workers' copies. */
@Entity('histogram_deletions')
export class HistogramDeletion {
  // Histogram ids come from a sequence: each is deleted at most once.
  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'histogram_deletions_pkey' })
  histogramId: number;

  @Index('histogram_deletions_xid_idx')
  @Column({ type: 'bigint' })
  xid: string;
}
