import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Image } from '../images/image.entity';
import { User } from '../users/user.entity';

export const JOB_STATUS = {
  queued: 'queued',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
} as const;

@Entity('jobs')
@Index('jobs_user_id_created_at_idx', ['userId', 'createdAt'])
export class Job {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 32, default: JOB_STATUS.queued })
  status: string;

  /** The seed's `environment` string, stored exactly as the client gave it. */
  @Column({ type: 'text', nullable: true })
  environment: string | null;

  @Column({ type: 'varchar', length: 2048, nullable: true })
  imageUrl: string | null;

  /** The job sequence, e.g. `{process,grayscale,histogram}`. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  jobType: string[];

  @Column({ type: 'integer' })
  userId: number;

  @ManyToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'jobs_user_id_fkey' })
  user: User;

  @Index('jobs_image_id_idx')
  @Column({ type: 'integer', nullable: true })
  imageId: number | null;

  @ManyToOne(() => Image, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'jobs_image_id_fkey' })
  image: Image | null;

  @Index('jobs_created_at_idx')
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
