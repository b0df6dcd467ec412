import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { Image } from '../images/image.entity';
import type { Job } from '../job-runs/job.entity';

/** A 256-bin histogram of an image's 8-bit grayscale, as the seed's `Job has_one :histogram`. */
@Entity('histograms')
@Check('histograms_bins_length_check', 'cardinality(bins) = 256')
export class Histogram {
  @PrimaryGeneratedColumn()
  id: number;

  @Index('histograms_image_id_key', { unique: true })
  @Column({ type: 'integer' })
  imageId: number;

  @ManyToOne('Image', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'histograms_image_id_fkey' })
  image: Relation<Image>;

  @Index('histograms_job_id_idx')
  @Column({ type: 'integer', nullable: true })
  jobId: number | null;

  @ManyToOne('Job', { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'job_id', foreignKeyConstraintName: 'histograms_job_id_fkey' })
  job: Relation<Job> | null;

  @Column({ type: 'integer', array: true })
  bins: number[];

  /**
   * The same 256 bins as 1 KB of big-endian int32s, written by a trigger from `bins`: aggregates
   * read a million of these in seconds, where PostgreSQL's array output would take far longer.
   */
  @Column({ type: 'bytea', select: false, insert: false, update: false })
  binsPacked: Buffer;

  /** The transaction that wrote the row or changed its image's owner, type or time (HistogramChangeFeed migration), as a bigint. */
  @Index('histograms_changed_xid_idx')
  @Column({ type: 'bigint', select: false, insert: false, update: false })
  changedXid: string;

  @Index('histograms_created_at_idx')
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
