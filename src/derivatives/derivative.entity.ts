import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import type { Image } from '../images/image.entity';
import type { Job } from '../job-runs/job.entity';

/**
 * Which job makes an image's derivative, and which of its steps: one row per image and resolved
 * steps (stepsKey). While
 * `job_id` is null, the request holding `claim` is creating the job; a claim older than a few
 * seconds was abandoned (its process died) and may be taken over.
 */
@Entity('derivatives')
export class Derivative {
  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'derivatives_pkey' })
  imageId: number;

  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'derivatives_pkey' })
  stepsKey: string;

  @ManyToOne('Image', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'derivatives_image_id_fkey' })
  image: Relation<Image>;

  @Index('derivatives_job_id_idx')
  @Column({ type: 'integer', nullable: true })
  jobId: number | null;

  @ManyToOne('Job', { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'job_id', foreignKeyConstraintName: 'derivatives_job_id_fkey' })
  job: Relation<Job> | null;

  /** The step of the job whose output is the derivative's file; null: the job's last step. */
  @Column({ type: 'smallint', nullable: true })
  outputStep: number | null;

  @Column({ type: 'uuid', nullable: true })
  claim: string | null;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  claimedAt: Date;
}
