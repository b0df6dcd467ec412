/**
 * `promise`, or a rejection naming `what` once `ms` have passed without an answer. A client of a
 * backend that is down may wait for it forever (BullMQ's Redis connection retries without end):
 * a page must answer regardless.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
