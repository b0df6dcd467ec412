import { nextAttemptAt } from './webhook-schedule';

describe('nextAttemptAt', () => {
  const ended = new Date('2026-12-03T08:00:00Z');
  const at = (seconds: number) => new Date(ended.getTime() + seconds * 1000);

  it('doubles the delay after each failed attempt', () => {
    expect(nextAttemptAt(1, ended, at(0), 10_000, 24)).toEqual(at(10));
    expect(nextAttemptAt(2, ended, at(10), 10_000, 24)).toEqual(at(30));
    expect(nextAttemptAt(3, ended, at(30), 10_000, 24)).toEqual(at(70));
  });

  it('stops once the next attempt would fall past WEBHOOK_RETRY_HOURS after the end', () => {
    const attempts: Date[] = [at(0)];
    for (
      let next = nextAttemptAt(1, ended, at(0), 10_000, 24);
      next;
      next = nextAttemptAt(attempts.length, ended, attempts[attempts.length - 1], 10_000, 24)
    ) {
      attempts.push(next);
    }
    // 0 s, then 10 s · (2^n − 1): the 14th attempt at 22.75 h, the next would be at 45.5 h.
    expect(attempts).toHaveLength(14);
    expect(attempts[13]).toEqual(at(10 * (2 ** 13 - 1)));
    expect(attempts[13].getTime() - ended.getTime()).toBeLessThanOrEqual(24 * 3600_000);
  });

  it('never retries with WEBHOOK_RETRY_HOURS=0', () => {
    expect(nextAttemptAt(1, ended, at(0), 10_000, 0)).toBeNull();
  });
});
