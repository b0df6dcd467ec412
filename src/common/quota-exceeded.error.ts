/**
 * A user's quota is full (src/quotas/quotas.ts): the API answers 429 for jobs, 413 for storage;
 * the worker fails the job. It lives here, beside the filter that answers it, so that common
 * needs nothing from quotas.
 */
export class QuotaExceededError extends Error {
  constructor(
    readonly quota: 'jobs' | 'storage',
    message: string,
  ) {
    super(message);
    this.name = 'QuotaExceededError';
  }
}
