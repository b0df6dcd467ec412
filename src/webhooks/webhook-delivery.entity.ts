import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { User } from '../users/user.entity';

export const DELIVERY_STATUS = { pending: 'pending', delivered: 'delivered', failed: 'failed' } as const;

/**
 * One webhook event: a job with a callback_url reached a final status. The `jobs` trigger
 * (migrations Webhooks, JobEventOutbox) writes it in the transaction that ends the job, so that
 * no end goes unannounced whichever process made it. Its id is the `webhook-id` of every attempt.
 *
 * No foreign key to the job: deleting a running job cancels it first, and that cancel is still
 * announced, from `payload` (the job's row as it ended).
 */
@Entity('webhook_deliveries')
@Index('webhook_deliveries_pending_idx', ['nextAttemptAt'], { where: "status = 'pending'" })
export class WebhookDelivery {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'webhook_deliveries_pkey' })
  id: string;

  @Index('webhook_deliveries_job_id_idx')
  @Column({ type: 'integer' })
  jobId: number;

  @Column({ type: 'integer' })
  userId: number;

  @ManyToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'webhook_deliveries_user_id_fkey' })
  user: User;

  /** `job.completed`, `job.failed` or `job.cancelled`. */
  @Column({ type: 'varchar', length: 32 })
  event: string;

  @Column({ type: 'varchar', length: 2048 })
  url: string;

  /** The job's row (column names as keys) at the moment it ended. */
  @Column({ type: 'jsonb' })
  payload: Record<string, unknown>;

  /** `pending` until an attempt is answered with a 2xx (`delivered`) or the retries run out (`failed`). */
  @Column({ type: 'varchar', length: 16, default: DELIVERY_STATUS.pending })
  status: string;

  /** Attempts made so far; the queue entry of the next one is named by this number. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  nextAttemptAt: Date;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}
