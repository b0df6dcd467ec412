/**
 * When to try a delivery again after `attemptsMade` attempts failed: exponential backoff from
 * `baseMs` (base, 2·base, 4·base…), for as long as the next attempt falls within `retryHours` of
 * the job's end. Null: the retries have run out.
 */
export function nextAttemptAt(attemptsMade: number, endedAt: Date, now: Date, baseMs: number, retryHours: number): Date | null {
  const next = new Date(now.getTime() + baseMs * 2 ** (attemptsMade - 1));
  return next.getTime() <= endedAt.getTime() + retryHours * 3600_000 ? next : null;
}
