import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  ValueTransformer,
  VirtualColumn,
} from 'typeorm';

/** `bigint` columns arrive from pg as strings; byte counts stay far below 2^53. */
const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** A counter cache's base plus its deltas; cast back to the column's type (sum() widens it). */
function usageOf(alias: string, base: string, delta: string, type: 'integer' | 'bigint'): string {
  return `SELECT (${alias}.${base} + coalesce(sum(d.${delta}), 0))::${type} FROM user_usage_deltas d WHERE d.user_id = ${alias}.id`;
}

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

  /**
   * The base of the counter caches, which the triggers never write: they append to
   * user_usage_deltas, which a periodic pass folds into these columns (docs/counters.md). Mapped
   * only so that the schema stays what the entities describe; never selected, inserted or updated. (The
   * virtual columns are named apart: TypeORM derives their database names from their properties.)
   */
  @Column({ name: 'jobs_count', type: 'integer', default: 0, select: false, insert: false, update: false })
  jobsCountBase: number;

  @Column({ name: 'image_count', type: 'integer', default: 0, select: false, insert: false, update: false })
  imageCountBase: number;

  @Column({ name: 'storage_bytes', type: 'bigint', default: 0, select: false, insert: false, update: false, transformer: bigintNumber })
  storageBytesBase: number;

  /** How many jobs this user has: the base plus the deltas not folded yet, read in the statement that loads the user. */
  @VirtualColumn({ type: 'integer', query: (alias) => usageOf(alias, 'jobs_count', 'jobs', 'integer') })
  jobsCountNow: number;

  /** How many images this user has, as jobsCountNow. */
  @VirtualColumn({ type: 'integer', query: (alias) => usageOf(alias, 'image_count', 'images', 'integer') })
  imageCountNow: number;

  /** The bytes of this user's stored files (originals and outputs: the sum of `images.bytes`), as jobsCountNow. */
  @VirtualColumn({ type: 'bigint', query: (alias) => usageOf(alias, 'storage_bytes', 'bytes', 'bigint'), transformer: bigintNumber })
  storageBytesNow: number;

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
