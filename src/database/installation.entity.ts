import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * This database's one row: a random id made by its migration. Queue entries live under it, so
 * any number of databases (and test runs) can share one Redis without touching each other's.
 */
@Entity('installation')
export class Installation {
  @PrimaryColumn({ type: 'varchar', length: 32, primaryKeyConstraintName: 'installation_pkey' })
  id: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  /** The file store's kind (`local`, `s3`), set by the first process that starts; null before. */
  @Column({ type: 'text', nullable: true })
  storageKind: string | null;

  /** The S3 bucket; null for local storage, whose directory each machine names for itself. */
  @Column({ type: 'text', nullable: true })
  storageLocation: string | null;

  /** Signs public derivative URLs when URL_SIGNING_KEY is unset (64 hex characters). */
  @Column({ type: 'text', select: false })
  urlSigningKey: string;

  /** The highest transaction id of the sync tombstones purged so far (src/sync): a cursor not past it may have missed one. */
  @Column({ type: 'bigint', default: 0 })
  syncPurgedThrough: string;
}
