import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

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

/** The throttler's own in-memory store (one process's count), counting `cost` hits at once. */
export class MemoryRateLimitStorage extends ThrottlerStorageService implements CountingThrottlerStorage {
  override async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
    cost = 1,
  ): Promise<ThrottlerStorageRecord> {
    let record = await super.increment(key, ttl, limit, blockDuration, throttlerName);
    for (let hit = 1; hit < cost && !record.isBlocked; hit++) {
      record = await super.increment(key, ttl, limit, blockDuration, throttlerName);
    }
    return record;
  }
}

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
