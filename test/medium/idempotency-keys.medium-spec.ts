import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { IdempotencyKeyRepository, StoredAnswer } from '../../src/idempotency/idempotency-key.repository';
import { TEST_DATABASE_URL_VARIABLE } from '../setup/test-env';

const LEASE = 30;
const TTL = 86_400;
const created: StoredAnswer = { status: 201, headers: { location: '/api/jobs/7.json' }, body: '{"id":7}' };
const fingerprint = (text: string) => Buffer.from(text.padEnd(32, '.'));

let sequence = 0;
const newKey = () => `medium-${++sequence}`;

/**
 * IdempotencyKeyRepository on the suite's own PostgreSQL, as every API node uses it: the claim is
 * one statement, so the rules that make a retry safe (one winner among concurrent requests, a
 * lease a dead request's retry may take over, keys kept for their TTL) are PostgreSQL's to keep.
 */
describe('IdempotencyKeyRepository (medium: on PostgreSQL)', () => {
  let context: INestApplicationContext;
  let keys: IdempotencyKeyRepository;
  let dataSource: DataSource;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TypeOrmModule.forRoot(dataSourceOptions(process.env[TEST_DATABASE_URL_VARIABLE]!, 12))],
      providers: [IdempotencyKeyRepository],
    }).compile();
    context = await moduleRef.init();
    keys = context.get(IdempotencyKeyRepository);
    dataSource = context.get(DataSource);
  });

  afterAll(() => context?.close());

  it('gives a key to exactly one of many requests claiming it at once; the others see it in flight', async () => {
    const key = newKey();
    const claims = await Promise.all(Array.from({ length: 12 }, () => keys.claim('user:1', key, fingerprint('a'), LEASE, TTL)));
    expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.kind === 'in-flight')).toHaveLength(11);
  });

  it('replays the kept answer to a retry, with the first request’s fingerprint for the caller to compare', async () => {
    const key = newKey();
    const claim = await keys.claim('user:1', key, fingerprint('a'), LEASE, TTL);
    if (claim.kind !== 'claimed') throw new Error(`claimed expected, got ${claim.kind}`);
    await keys.answer('user:1', key, claim.lease, fingerprint('a'), created);
    for (const retry of [fingerprint('a'), fingerprint('other body')]) {
      expect(await keys.claim('user:1', key, retry, LEASE, TTL)).toEqual({
        kind: 'answered',
        fingerprint: fingerprint('a'),
        answer: created,
      });
    }
  });

  it('keeps keys per owner', async () => {
    const key = newKey();
    expect((await keys.claim('user:1', key, fingerprint('a'), LEASE, TTL)).kind).toBe('claimed');
    expect((await keys.claim('user:2', key, fingerprint('a'), LEASE, TTL)).kind).toBe('claimed');
  });

  it('lets the same request take over a claim whose lease ran out, but not another request', async () => {
    const key = newKey();
    const first = await keys.claim('user:1', key, fingerprint('a'), 1, TTL);
    if (first.kind !== 'claimed') throw new Error(`claimed expected, got ${first.kind}`);
    expect((await keys.claim('user:1', key, fingerprint('a'), LEASE, TTL)).kind).toBe('in-flight');
    await sleep(1100);
    expect((await keys.claim('user:1', key, fingerprint('b'), LEASE, TTL)).kind).toBe('in-flight');
    const second = await keys.claim('user:1', key, fingerprint('a'), LEASE, TTL);
    expect(second.kind).toBe('claimed');
    // The first request, still running somewhere, has lost the key: it can neither renew nor answer.
    expect(await keys.renew('user:1', key, first.lease, LEASE)).toBe(false);
    await keys.answer('user:1', key, first.lease, fingerprint('a'), { ...created, status: 500 });
    if (second.kind !== 'claimed') throw new Error('unreachable');
    expect(await keys.renew('user:1', key, second.lease, LEASE)).toBe(true);
    await keys.answer('user:1', key, second.lease, fingerprint('a'), created);
    expect(await keys.claim('user:1', key, fingerprint('a'), LEASE, TTL)).toMatchObject({ kind: 'answered', answer: created });
  });

  it('frees a released key for a retry to do the work afresh', async () => {
    const key = newKey();
    const claim = await keys.claim('user:1', key, fingerprint('a'), LEASE, TTL);
    if (claim.kind !== 'claimed') throw new Error(`claimed expected, got ${claim.kind}`);
    await keys.release('user:1', key, claim.lease);
    expect((await keys.claim('user:1', key, fingerprint('b'), LEASE, TTL)).kind).toBe('claimed');
  });

  it('forgets an answer past its TTL: any request claims the key anew, and the sweep deletes what is left', async () => {
    const key = newKey();
    const claim = await keys.claim('user:1', key, fingerprint('a'), LEASE, 1);
    if (claim.kind !== 'claimed') throw new Error(`claimed expected, got ${claim.kind}`);
    await keys.answer('user:1', key, claim.lease, fingerprint('a'), created);
    const stale = newKey();
    await keys.claim('user:1', stale, fingerprint('a'), LEASE, 1);
    await sleep(1100);
    expect((await keys.claim('user:1', key, fingerprint('b'), LEASE, TTL)).kind).toBe('claimed');
    expect(await keys.deleteExpired()).toBeGreaterThanOrEqual(1);
    const left = (await dataSource.query('SELECT key FROM idempotency_keys WHERE key = ANY($1)', [[key, stale]])) as { key: string }[];
    expect(left).toEqual([{ key }]);
  });
});
