import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity('users')
export class User {
  @PrimaryGeneratedColumn()
  id: number;

  @Index('users_username_key', { unique: true })
  @Column({ type: 'varchar', length: 40 })
  username: string;

  @Index('users_email_key', { unique: true })
  @Column({ type: 'varchar', length: 254 })
  email: string;

  @Column({ type: 'varchar', length: 255 })
  encryptedPassword: string;

  /** Counter cache of this user's jobs, kept by a trigger in the same transaction as the change. */
  @Column({ type: 'integer', default: 0 })
  jobsCount: number;

  /** Counter cache of this user's images, kept by a trigger in the same transaction as the change. */
  @Column({ type: 'integer', default: 0 })
  imageCount: number;

  @Column({ type: 'boolean', default: false })
  admin: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
