import type { Request } from 'express';
import { jobsInBody } from './rate-limit.decorator';
import { MemoryRateLimitStorage } from './rate-limit.storage';

describe('MemoryRateLimitStorage', () => {
  const storage = new MemoryRateLimitStorage();
  afterAll(() => storage.onApplicationShutdown());

  it('counts a request of cost n as n hits, and blocks past the limit', async () => {
    const hit = (cost: number) => storage.increment('k', 60_000, 5, 60_000, 'jobs', cost);
    expect(await hit(3)).toMatchObject({ totalHits: 3, isBlocked: false });
    expect(await hit(2)).toMatchObject({ totalHits: 5, isBlocked: false });
    const refused = await hit(1);
    expect(refused.isBlocked).toBe(true);
    expect(refused.timeToBlockExpire).toBeGreaterThan(0);
    expect(refused.timeToBlockExpire).toBeLessThanOrEqual(60);
  });

  it('refuses a batch that would overrun what is left of the budget', async () => {
    expect((await storage.increment('b', 60_000, 5, 60_000, 'jobs', 4)).isBlocked).toBe(false);
    expect((await storage.increment('b', 60_000, 5, 60_000, 'jobs', 2)).isBlocked).toBe(true);
  });
});

describe('jobsInBody', () => {
  const request = (body: unknown) => ({ body }) as Request;

  it('counts one job, or each job of a batch', () => {
    expect(jobsInBody(request({ image_id: 1, job_type: 'grayscale' }))).toBe(1);
    expect(jobsInBody(request({ jobs: [{}, {}, {}] }))).toBe(3);
    expect(jobsInBody(request({ jobs: [] }))).toBe(1);
    expect(jobsInBody(request(undefined))).toBe(1);
  });
});
