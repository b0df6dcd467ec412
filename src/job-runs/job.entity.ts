import {
  Column,
  CreateDateColumn,
  Entity,
  Generated,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
  UpdateDateColumn,
} from 'typeorm';
import type { Image } from '../images/image.entity';
import { JOB_LANE, JOB_STATUS, type JobLane } from '../pipelines/job-states';
import { User } from '../users/user.entity';

export { JOB_LANE, JOB_STATUS };

export interface Neighbor {
  user_id: number;
  image_id: number;
  distance: number;
}

/** A query's reduced histogram, or a search's nearest users, over `count` histograms. */
export interface JobResult {
  count: number;
  median?: number[] | null;
  mean?: number[] | null;
  neighbors?: Neighbor[];
  message?: string;
}

@Entity('jobs')
@Index('jobs_user_id_created_at_idx', ['userId', 'createdAt'])
@Index('jobs_unfinished_idx', ['id'], { where: "status IN ('queued', 'running')" })
@Index('jobs_user_id_unfinished_idx', ['userId'], { where: "status IN ('queued', 'running')" })
// Expression indexes (on job_type[1], the job's queue), made by the FairQueues and JobStarts migrations.
@Index('jobs_pending_idx', { synchronize: false })
@Index('jobs_in_flight_idx', { synchronize: false })
@Index('jobs_user_dispatches_idx', { synchronize: false })
@Index('jobs_started_idx', { synchronize: false })
export class Job {
  @PrimaryGeneratedColumn()
  id: number;

  @Index('jobs_status_idx')
  @Column({ type: 'varchar', length: 32, default: JOB_STATUS.queued })
  status: string;

  /**
   * Names the job's current queue entry. A new one is drawn whenever the job is queued again
   * (retry, requeue), so a stale entry is recognised and dropped, and it fences writes: an
   * attempt may write only while the row still carries its delivery id and attempt number.
   */
  @Column({ type: 'uuid' })
  @Generated('uuid')
  deliveryId: string;

  /** Which lane of its queue the job waits in: `interactive` goes first, `bulk` keeps a share (docs/queues.md). */
  @Column({ type: 'varchar', length: 16, default: JOB_LANE.interactive })
  lane: JobLane;

  /**
   * When the dispatcher gave the queued job its queue entry; null while it waits for its turn in
   * PostgreSQL (pending). Cleared whenever the job is queued again.
   */
  @Column({ type: 'timestamptz', nullable: true })
  dispatchedAt: Date | null;

  /** A retry's backoff: the dispatcher leaves the job pending until then. */
  @Column({ type: 'timestamptz', nullable: true })
  runAfter: Date | null;

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

  @ManyToOne('Image', { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'jobs_image_id_fkey' })
  image: Relation<Image> | null;

  /** Each step's parameters, by operation name: `{"resize": {"width": 800}}`. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  params: Record<string, object>;

  /** Percent of the steps done. */
  @Column({ type: 'smallint', default: 0 })
  progress: number;

  /** How many times a worker has started this job since it was created or last retried. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ type: 'integer', default: 3 })
  maxAttempts: number;

  /** Seconds a single attempt may run. */
  @Column({ type: 'integer', default: 300 })
  timeout: number;

  /** Seconds the job may wait in the queue before it expires unrun; null: forever. */
  @Column({ type: 'integer', nullable: true })
  ttl: number | null;

  @Column({ type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  /** Why the job failed, in words a user can act on. */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** What a query or search job computed: `{"median": […], "count": N}`, `{"neighbors": […]}`. */
  @Column({ type: 'jsonb', nullable: true })
  result: JobResult | null;

  /** Each step's output image id, in step order. */
  @Column({ type: 'integer', array: true, default: () => "'{}'" })
  outputImageIds: number[];

  /** Compute every step even when the same work was done before. */
  @Column({ type: 'boolean', default: false })
  force: boolean;

  /** The steps (indices into outputImageIds) whose output is an earlier identical step's file. */
  @Column({ type: 'smallint', array: true, default: () => "'{}'" })
  reusedSteps: number[];

  /** Where the job's end is announced as a signed webhook (see src/webhooks); null: nowhere. */
  @Column({ type: 'varchar', length: 2048, nullable: true })
  callbackUrl: string | null;

  @Index('jobs_created_at_idx')
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
