import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';

/** The answer kept for a key: replayed as it was first sent. */
export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  /** The JSON text of the body; null for an answer without one. */
  body: string | null;
}

/** What claiming a key found: the key is now this request's, or another request has (or had) it. */
export type Claim =
  | { kind: 'claimed'; lease: string }
  | { kind: 'answered'; fingerprint: Buffer; answer: StoredAnswer }
  | { kind: 'in-flight'; fingerprint: Buffer };

/** A claim whose row vanished between the two statements (answered with a 5xx, or swept) is tried again this often. */
const CLAIM_ATTEMPTS = 3;

/**
 * idempotency_keys (migrations/1797500000000-IdempotencyKeys.ts). A key is claimed in one
 * statement, so that of two requests with the same key on any two nodes exactly one does the work.
 */
@Injectable()
export class IdempotencyKeyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Claims `key` for the request whose fingerprint is given, unless another request holds it. An
   * expired row is taken over whatever it held. So is an in-flight row whose lease ran out (its
   * process died mid-request) when the retry is the same request: a different one is told so.
   */
  async claim(owner: string, key: string, fingerprint: Buffer, leaseSeconds: number, ttlSeconds: number): Promise<Claim> {
    for (let attempt = 1; ; attempt++) {
      const lease = randomUUID();
      const claimed = (await this.dataSource.query(CLAIM, [owner, key, fingerprint, lease, leaseSeconds, ttlSeconds])) as unknown[];
      if (claimed.length > 0) return { kind: 'claimed', lease };
      const [row] = (await this.dataSource.query(
        `SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE owner = $1 AND key = $2 AND expires_at > now()`,
        [owner, key],
      )) as { fingerprint: Buffer; status: number | null; headers: Record<string, string> | null; body: string | null }[];
      if (row?.status != null) {
        return {
          kind: 'answered',
          fingerprint: row.fingerprint,
          answer: { status: row.status, headers: row.headers ?? {}, body: row.body },
        };
      }
      if (row || attempt === CLAIM_ATTEMPTS) return { kind: 'in-flight', fingerprint: row?.fingerprint ?? fingerprint };
    }
  }

  /** Moves the lease's end forward while its request still runs; false once the lease is no longer this request's. */
  async renew(owner: string, key: string, lease: string, leaseSeconds: number): Promise<boolean> {
    const [, affected] = (await this.dataSource.query(
      `UPDATE idempotency_keys SET leased_until = now() + $4 * interval '1 second' WHERE owner = $1 AND key = $2 AND lease = $3`,
      [owner, key, lease, leaseSeconds],
    )) as [unknown, number];
    return affected > 0;
  }

  /**
   * Keeps the answer for retries, with the fingerprint they are compared with (an upload's is
   * only known once its form is read); nothing when the lease was taken over meanwhile.
   */
  async answer(owner: string, key: string, lease: string, fingerprint: Buffer, answer: StoredAnswer): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_keys SET lease = NULL, leased_until = NULL, fingerprint = $4, status = $5, headers = $6, body = $7
        WHERE owner = $1 AND key = $2 AND lease = $3`,
      [owner, key, lease, fingerprint, answer.status, JSON.stringify(answer.headers), answer.body],
    );
  }

  /** Gives the key up, so that a retry does the work afresh. */
  async release(owner: string, key: string, lease: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND lease = $3`, [owner, key, lease]);
  }

  /** Deletes the keys past IDEMPOTENCY_TTL (reads ignore them already); answers how many. */
  async deleteExpired(): Promise<number> {
    const [, deleted] = (await this.dataSource.query(`DELETE FROM idempotency_keys WHERE expires_at <= now()`)) as [unknown, number];
    return deleted;
  }
}

// $1 owner, $2 key, $3 fingerprint, $4 lease, $5 lease seconds, $6 ttl seconds.
const CLAIM = `
  INSERT INTO idempotency_keys AS k (owner, key, fingerprint, lease, leased_until, expires_at)
  VALUES ($1, $2, $3, $4, now() + $5 * interval '1 second', now() + $6 * interval '1 second')
  ON CONFLICT (owner, key) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint, lease = EXCLUDED.lease, leased_until = EXCLUDED.leased_until,
    status = NULL, headers = NULL, body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
  WHERE k.expires_at <= now() OR (k.leased_until <= now() AND k.fingerprint = EXCLUDED.fingerprint)
  RETURNING 1`;
