/** Methods the server makes idempotent with an Idempotency-Key: the others are safe to repeat as they are. */
const KEYED_METHODS = new Set(['POST', 'PATCH']);

/** Answers worth asking again for: the server or a proxy in front of it failed, or the first try is still in flight. */
const RETRIED_STATUSES = new Set([409, 502, 503, 504]);

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait before the second try; it doubles after each. */
  firstDelayMs: number;
}

/**
 * A fetch that gives every POST and PATCH an Idempotency-Key (unless the caller set one) and sends
 * it again, with the same key and body, when the answer is lost (a network error) or is a 502,
 * 503 or 504, or a 409 that says the first try is still in flight: the server then does the work
 * once and answers every try alike. Other requests are sent once.
 */
export function idempotentFetch(base: typeof fetch, { attempts, firstDelayMs }: RetryOptions): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    if (!KEYED_METHODS.has(request.method)) return base(request);
    if (!request.headers.has('Idempotency-Key')) request.headers.set('Idempotency-Key', crypto.randomUUID());
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts || request.signal.aborted;
      try {
        const response = await base(request.clone());
        if (last || !isRetried(response)) return response;
      } catch (error) {
        if (last) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, firstDelayMs * 2 ** (attempt - 1)));
    }
  };
}

/** A 409 is retried only when it says when to (Retry-After): the server's "that key is still in flight"; any other is an answer. */
function isRetried(response: Response): boolean {
  if (!RETRIED_STATUSES.has(response.status)) return false;
  return response.status !== 409 || response.headers.has('Retry-After');
}
