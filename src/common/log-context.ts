import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields every log line written inside the current request or job carries (req_id, job_id, step). */
export type LogFields = Record<string, string | number>;

const context = new AsyncLocalStorage<LogFields>();

/** Runs `work` with `fields` added to the log context that surrounds it. */
export function withLogContext<T>(fields: LogFields, work: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, work);
}

export function currentLogFields(): LogFields {
  return context.getStore() ?? {};
}
