import { SYNC_KINDS, type SyncKind } from './sync-change.entity';

/**
 * Where a client stands in the order changes are answered in: (transaction id, kind, record id).
 * `kind: ''` stands before every kind of its transaction, so (xid, '', 0) means "every change of
 * the transactions below xid".
 */
export interface SyncPosition {
  xid: bigint;
  kind: '' | SyncKind;
  id: number;
}

export interface SyncCursor {
  position: SyncPosition;
  /**
   * Tombstones of transactions below this one are not answered: a full sync (no `since`) began
   * when every one of them had ended, so they are of records the client never received. 0 after
   * a delta.
   */
  floor: bigint;
}

export const START: SyncPosition = { xid: 0n, kind: '', id: 0 };

const VERSION = '1';
const MAX_XID = 2n ** 63n - 1n;
const MAX_ID = 2_147_483_647;
const TEXT = new RegExp(`^${VERSION}:(0|[1-9][0-9]{0,18}):(|${SYNC_KINDS.join('|')}):(0|[1-9][0-9]{0,9}):(0|[1-9][0-9]{0,18})$`);

/** The cursor as a client holds it: opaque, URL-safe, versioned so that its form can change. */
export function encodeCursor({ position, floor }: SyncCursor): string {
  return Buffer.from(`${VERSION}:${position.xid}:${position.kind}:${position.id}:${floor}`, 'utf8').toString('base64url');
}

/** The cursor a client sent back; null for anything encodeCursor did not write. */
export function decodeCursor(text: string): SyncCursor | null {
  const decoded = Buffer.from(text, 'base64url');
  const match = decoded.toString('base64url') === text ? TEXT.exec(decoded.toString('utf8')) : null;
  if (!match) return null;
  const xid = BigInt(match[1]);
  const id = Number(match[3]);
  const floor = BigInt(match[4]);
  if (xid > MAX_XID || floor > MAX_XID || id > MAX_ID) return null;
  return { position: { xid, kind: match[2] as SyncPosition['kind'], id }, floor };
}

/** Whether `a` comes after `b` in the order changes are answered in. */
export function isAfter(a: SyncPosition, b: SyncPosition): boolean {
  if (a.xid !== b.xid) return a.xid > b.xid;
  if (a.kind !== b.kind) return a.kind > b.kind;
  return a.id > b.id;
}
