import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { WebhookDelivery } from './webhook-delivery.entity';

/**
 * What became of one attempt: `delivered` (a 2xx), `http_error` (another status), `timeout`,
 * `network_error` (no answer: refused, reset, TLS), `refused` (the URL is not allowed, or now
 * resolves to a private address) or `error` (the delivery could not be signed).
 */
export type AttemptOutcome = 'delivered' | 'http_error' | 'timeout' | 'network_error' | 'refused' | 'error';

@Entity('webhook_attempts')
@Index('webhook_attempts_delivery_id_attempt_key', ['deliveryId', 'attempt'], { unique: true })
export class WebhookAttempt {
  @PrimaryGeneratedColumn({ type: 'bigint', primaryKeyConstraintName: 'webhook_attempts_pkey' })
  id: string;

  @Column({ type: 'uuid' })
  deliveryId: string;

  @ManyToOne(() => WebhookDelivery, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'delivery_id', foreignKeyConstraintName: 'webhook_attempts_delivery_id_fkey' })
  delivery: WebhookDelivery;

  /** 1 for the first attempt. */
  @Column({ type: 'integer' })
  attempt: number;

  @Column({ type: 'timestamptz' })
  attemptedAt: Date;

  @Column({ type: 'integer' })
  durationMs: number;

  @Column({ type: 'varchar', length: 16 })
  outcome: AttemptOutcome;

  @Column({ type: 'smallint', nullable: true })
  statusCode: number | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;
}
