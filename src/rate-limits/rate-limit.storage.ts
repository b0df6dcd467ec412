import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { DataSource } from 'typeorm';

/** A throttler store that can count one request as several hits (a batch of n jobs spends n). */
export interface CountingThrottlerStorage extends ThrottlerStorage {
  increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
    cost?: number,
  ): Promise<ThrottlerStorageRecord>;
}

/**
 * The store without Redis: one row per key in PostgreSQL (rate_limit_counters, unlogged), so every
 * API process of the installation shares one count, as on Redis. The same rule as the Redis
 * script below, in one statement: a fixed window of `ttl` ms from the key's first hit; past
 * `limit` hits in it, the key is blocked for `blockDuration` ms.
 */
export class PostgresRateLimitStorage implements CountingThrottlerStorage {
  private readonly logger = new Logger('RateLimits');

  constructor(private readonly dataSource: DataSource) {}

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    _throttlerName: string,
    cost = 1,
  ): Promise<ThrottlerStorageRecord> {
    const [row] = (await this.dataSource.query(INCREMENT, [key, cost, ttl, limit, blockDuration])) as {
      hits: number;
      expires_in: number;
      blocked_for: number | null;
    }[];
    // Expired keys are swept now and then by whichever process counts, rather than by a schedule
    // one node would own; an expired row left behind is only ever reset, never read as live.
    if (Math.random() < SWEEP_CHANCE) this.sweep();
    return {
      totalHits: row.hits,
      timeToExpire: row.expires_in,
      isBlocked: row.blocked_for !== null,
      timeToBlockExpire: row.blocked_for ?? 0,
    };
  }

  private sweep(): void {
    this.dataSource
      .query(`DELETE FROM rate_limit_counters WHERE window_ends < now() AND (blocked_until IS NULL OR blocked_until < now())`)
      .catch((error: Error) => this.logger.warn(`Sweeping expired rate-limit counters failed: ${error.message}`));
  }
}

const SWEEP_CHANCE = 0.001;

// $1 key, $2 cost, $3 ttl ms, $4 limit, $5 block ms. Times are seconds left, rounded up, as the
// throttler's records carry them.
const INCREMENT = `
  WITH hit AS (
    INSERT INTO rate_limit_counters AS c (key, hits, window_ends, blocked_until)
    VALUES ($1::text, $2::int, now() + $3::int * interval '1 millisecond',
            CASE WHEN $2::int > $4::int THEN now() + $5::int * interval '1 millisecond' END)
    ON CONFLICT (key) DO UPDATE SET
      hits = CASE WHEN c.window_ends <= now() THEN $2::int ELSE c.hits + $2::int END,
      window_ends = CASE WHEN c.window_ends <= now() THEN EXCLUDED.window_ends ELSE c.window_ends END,
      blocked_until = CASE
        WHEN c.blocked_until > now() THEN c.blocked_until
        WHEN (CASE WHEN c.window_ends <= now() THEN $2::int ELSE c.hits + $2::int END) > $4::int THEN now() + $5::int * interval '1 millisecond'
      END
    RETURNING hits, window_ends, blocked_until
  )
  SELECT hits,
         ceil(extract(epoch FROM window_ends - now()))::int AS expires_in,
         ceil(extract(epoch FROM blocked_until - now()))::int AS blocked_for
  FROM hit`;

/**
 * @nest-lab/throttler-storage-redis's store (every API process shares one count), with its script
 * adding `cost` hits at once (INCRBY) instead of one. A fixed window of `ttl` ms; past `limit`,
 * the key is blocked for `blockDuration` ms. Its keys are `<key>:hits` and `<key>:blocked`.
 */
export class RedisRateLimitStorage extends ThrottlerStorageRedisService implements CountingThrottlerStorage {
  override getScriptSrc(): string {
    return `
      local hitKey = KEYS[1]
      local blockKey = KEYS[2]
      local ttl = tonumber(ARGV[2])
      local limit = tonumber(ARGV[3])
      local blockDuration = tonumber(ARGV[4])
      local cost = tonumber(ARGV[5])

      local totalHits = redis.call('INCRBY', hitKey, cost)
      local timeToExpire = redis.call('PTTL', hitKey)
      if timeToExpire <= 0 then
        redis.call('PEXPIRE', hitKey, ttl)
        timeToExpire = ttl
      end

      local isBlocked = redis.call('GET', blockKey)
      local timeToBlockExpire = 0
      if isBlocked then
        timeToBlockExpire = redis.call('PTTL', blockKey)
      elseif totalHits > limit then
        redis.call('SET', blockKey, 1, 'PX', blockDuration)
        isBlocked = '1'
        timeToBlockExpire = blockDuration
      end

      if isBlocked and timeToBlockExpire <= 0 then
        redis.call('DEL', blockKey)
        redis.call('SET', hitKey, cost, 'PX', ttl)
        totalHits = cost
        timeToExpire = ttl
        isBlocked = false
      end

      return { totalHits, timeToExpire, isBlocked and 1 or 0, timeToBlockExpire }
    `
      .replace(/^\s+/gm, '')
      .trim();
  }

  override async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
    cost = 1,
  ): Promise<ThrottlerStorageRecord> {
    // Unlike the package's `{key:name}:hits`, the keys start with the caller's key, which carries the
    // installation's prefix (and a {hash tag}, so that both keys live in one Redis Cluster slot).
    const hitKey = `${key}:hits`;
    const blockKey = `${key}:blocked`;
    const result = await this.redis.call('eval', this.scriptSrc, 2, hitKey, blockKey, throttlerName, ttl, limit, blockDuration, cost);
    if (!Array.isArray(result) || result.length !== 4 || !result.every((value) => typeof value === 'number')) {
      throw new TypeError(`The rate-limit script answered ${JSON.stringify(result)}, not four numbers`);
    }
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = result as number[];
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    };
  }
}
