import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils';
import type { Pool, PoolClient } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdvisoryLock } from '../database/advisory-locks';

/** How long a request waits for another to let go of its upload before tus answers it 500 (tus's own MemoryLocker waits as long). */
const ACQUIRE_TIMEOUT_MS = 30_000;
const RETRY_MS = 100;

/**
 * tus's Locker on PostgreSQL: one request at a time writes (or reads the offset of) an upload, on
 * whichever API node each arrives. tus's default MemoryLocker knows only its own process's
 * requests. Each lock is a session advisory lock (AdvisoryLock.ResumableUpload, the upload id's
 * hashtext), held on a connection of `pool` for as long as the request holds it: a node that dies
 * mid-request gives it up with its connection. `pool` is not the one the queries use, so that
 * uploads in flight never leave the rest of the API waiting for a connection.
 *
 * A waiting request asks the holder to let go (tus's `cancelReq`, which ends a stalled PATCH) when
 * the holder is in this process; one on another node lets go when its request ends.
 */
export class UploadLocker implements Locker {
  private readonly holders = new Map<string, RequestRelease>();

  constructor(private readonly pool: Pool) {}

  newLock(id: string): Lock {
    return new UploadLock(id, this.pool, this.holders);
  }
}

class UploadLock implements Lock {
  private client: PoolClient | null = null;
  private release: RequestRelease | null = null;

  constructor(
    private readonly id: string,
    private readonly pool: Pool,
    private readonly holders: Map<string, RequestRelease>,
  ) {}

  async lock(signal: AbortSignal, cancelReq: RequestRelease): Promise<void> {
    const client = await this.pool.connect();
    const deadline = Date.now() + ACQUIRE_TIMEOUT_MS;
    try {
      for (;;) {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [
          AdvisoryLock.ResumableUpload,
          this.id,
        ]);
        if (rows[0].locked) break;
        await this.holders.get(this.id)?.();
        if (signal.aborted || Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
        await sleep(RETRY_MS);
      }
    } catch (error) {
      client.release();
      throw error;
    }
    this.client = client;
    this.release = cancelReq;
    this.holders.set(this.id, cancelReq);
  }

  async unlock(): Promise<void> {
    const client = this.client;
    if (!client) throw new Error(`Releasing upload ${this.id}, which this request does not hold`);
    this.client = null;
    if (this.holders.get(this.id) === this.release) this.holders.delete(this.id);
    try {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [AdvisoryLock.ResumableUpload, this.id]);
      client.release();
    } catch (error) {
      // A connection that cannot say unlock is dropped: closing it is what frees the lock.
      client.release(error as Error);
    }
  }
}
