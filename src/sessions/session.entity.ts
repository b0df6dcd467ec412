import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { User } from '../users/user.entity';

/** User agents are kept to this many characters. */
export const USER_AGENT_LENGTH = 255;

/**
 * One signed-in device: made by each sign-up and sign-in, ended by signing out, by a password
 * change (every other session of the user) or by going unused for SESSION_TTL_DAYS. The bearer
 * token itself is never stored, only its SHA-256.
 */
@Entity('sessions')
export class Session {
  @PrimaryGeneratedColumn({ primaryKeyConstraintName: 'sessions_pkey' })
  id: number;

  @Index('sessions_user_id_idx')
  @Column({ type: 'integer' })
  userId: number;

  @ManyToOne('User', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'sessions_user_id_fkey' })
  user: Relation<User>;

  /** SHA-256 of the bearer token (32 bytes): the guard looks sessions up by it. */
  @Index('sessions_token_sha256_key', { unique: true })
  @Column({ type: 'bytea' })
  tokenSha256: Buffer;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  /** Moved forward at most once a minute, by the requests that use the session. */
  @Column({ type: 'timestamptz', default: () => 'now()' })
  lastUsedAt: Date;

  @Column({ type: 'varchar', length: USER_AGENT_LENGTH, nullable: true })
  userAgent: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;
}
