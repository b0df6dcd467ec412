import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { User } from '../users/user.entity';

/**
 * A user's webhook signing secret, and the one it replaced (still valid for a grace period after
 * a rotation). Both are stored sealed (webhook-secret-cipher.ts) and never shown again.
 */
@Entity('webhook_secrets')
export class WebhookSecret {
  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'webhook_secrets_pkey' })
  userId: number;

  @OneToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'webhook_secrets_user_id_fkey' })
  user: User;

  @Column({ type: 'text' })
  secret: string;

  @Column({ type: 'text', nullable: true })
  previousSecret: string | null;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  rotatedAt: Date;
}
