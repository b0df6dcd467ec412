import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The kinds of record a client syncs, in the order a transaction's changes are answered. */
export const SYNC_KINDS = ['image', 'job'] as const;
export type SyncKind = (typeof SYNC_KINDS)[number];

/**
 * The last change its owner can see of one image or job, as the triggers of the SyncChanges
 * migration record it: the writing transaction's id, and whether the record is gone (a tombstone,
 * kept for SYNC_TOMBSTONE_DAYS). A record moved to another user has a row for each.
 */
@Entity('sync_changes')
@Index('sync_changes_user_xid_idx', ['userId', 'xid', 'kind', 'recordId'])
@Index('sync_changes_tombstones_idx', ['changedAt'], { where: 'deleted' })
export class SyncChange {
  @PrimaryColumn({ type: 'varchar', length: 8, primaryKeyConstraintName: 'sync_changes_pkey' })
  kind: SyncKind;

  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'sync_changes_pkey' })
  recordId: number;

  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'sync_changes_pkey' })
  userId: number;

  /** pg_current_xact_id() of the transaction that made the change, as a bigint (read as a string). */
  @Column({ type: 'bigint' })
  xid: string;

  @Column({ type: 'boolean' })
  deleted: boolean;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  changedAt: Date;
}
