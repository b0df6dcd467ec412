import { QueryFailedError } from 'typeorm';

/**
 * PostgreSQL's codes for a transaction it rolled back to break a deadlock (40P01) or a
 * serialization conflict (40001): nothing of it was written, so running it again is safe.
 */
const RETRYABLE_CODES = new Set(['40P01', '40001']);

/**
 * Runs `work`, a whole transaction or a single statement, again when PostgreSQL picks it as a
 * deadlock's victim, up to `attempts` times, after a short random pause so that the two sides do
 * not meet again at once. Deletes whose cascades lock rows in an order of PostgreSQL's choosing
 * (a user's jobs and images) can meet a worker's transaction that way; the caller should not
 * answer 500 for it.
 */
export async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * attempt));
    }
  }
}

function isRetryable(error: unknown): boolean {
  return error instanceof QueryFailedError && RETRYABLE_CODES.has((error.driverError as { code?: string }).code ?? '');
}
