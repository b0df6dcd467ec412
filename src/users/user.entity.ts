import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn, ValueTransformer } from 'typeorm';

/** `bigint` columns arrive from pg as strings; byte counts stay far below 2^53. */
const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

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

  /**
   * Counter cache of the bytes of this user's stored files (originals and outputs: the sum of
   * `images.bytes`), kept by a trigger in the same transaction as the change; never written here.
   */
  @Column({ type: 'bigint', default: 0, insert: false, update: false, transformer: bigintNumber })
  storageBytes: number;

  /** This user's limit of queued plus running jobs; null: QUOTA_JOBS_IN_PROGRESS. */
  @Column({ type: 'integer', nullable: true })
  maxJobsInProgress: number | null;

  /** This user's limit of stored bytes; null: QUOTA_STORAGE_BYTES. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  maxStorageBytes: number | null;

  @Column({ type: 'boolean', default: false })
  admin: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
