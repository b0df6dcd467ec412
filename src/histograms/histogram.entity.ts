import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Image } from '../images/image.entity';
import { Job } from '../jobs/job.entity';

/** A 256-bin histogram of an image's 8-bit grayscale, as the seed's `Job has_one :histogram`. */
@Entity('histograms')
export class Histogram {
  @PrimaryGeneratedColumn()
  id: number;

  @Index('histograms_image_id_key', { unique: true })
  @Column({ type: 'integer' })
  imageId: number;

  @ManyToOne(() => Image, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'histograms_image_id_fkey' })
  image: Image;

  @Index('histograms_job_id_idx')
  @Column({ type: 'integer', nullable: true })
  jobId: number | null;

  @ManyToOne(() => Job, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'job_id', foreignKeyConstraintName: 'histograms_job_id_fkey' })
  job: Job | null;

  @Column({ type: 'integer', array: true })
  bins: number[];

  @Index('histograms_created_at_idx')
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
