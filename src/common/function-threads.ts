import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the functions' own signatures type each call
type Functions = Record<string, (...args: any[]) => unknown>;

interface Task {
  name: string;
  args: unknown[];
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

/** One thread per core, four at most: beyond that a 2-to-4-core worker gains nothing. */
export function defaultThreadCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/**
 * Threads that run a fixed set of functions on shared memory, off the event loop (where BullMQ
 * renews job locks), spawned on first use and kept for the next call: a thread costs tens of
 * milliseconds to start. Each function runs from its own source text, so it can use nothing from
 * its module but what it requires in its body; the unit specs run the same source in-process. A
 * thread that fails or exits fails its call and is replaced.
 */
export class FunctionThreads<F extends Functions> {
  private readonly program: string;
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private started = 0;
  private closed = false;

  constructor(
    functions: F,
    readonly size = defaultThreadCount(),
    private readonly label = 'thread',
  ) {
    this.program = `
const { parentPort } = require('node:worker_threads');
const functions = { ${Object.entries(functions)
      .map(([name, fn]) => `${JSON.stringify(name)}: ${fn.toString()}`)
      .join(',\n')} };
parentPort.on('message', ({ name, args }) => {
  try {
    parentPort.postMessage({ result: functions[name](...args) });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.stack) || error) });
  }
});
`;
  }

  /** `name`'s result on `args`, computed by the next free thread. */
  run<N extends keyof F & string>(name: N, ...args: Parameters<F[N]>): Promise<ReturnType<F[N]>> {
    if (this.closed) return Promise.reject(new Error(`The ${this.label}s are closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ name, args, resolve: resolve as (result: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Fails the calls not started; each running call ends first, then its thread goes. */
  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error(`The ${this.label}s were closed`));
    const threads = this.idle.splice(0);
    this.started -= threads.length;
    await Promise.all(threads.map((thread) => thread.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let thread = this.idle.pop();
      if (!thread && this.started < this.size) thread = this.spawn();
      if (!thread) return;
      this.assign(thread, this.queue.shift()!);
    }
  }

  private spawn(): Worker {
    this.started++;
    const thread = new Worker(this.program, { eval: true });
    thread.unref();
    return thread;
  }

  private assign(thread: Worker, task: Task): void {
    const onMessage = (message: { result?: unknown; error?: string }) =>
      message.error === undefined
        ? settle(() => task.resolve(message.result), true)
        : settle(() => task.reject(new Error(`A ${this.label} failed: ${message.error}`)), true);
    const onError = (error: Error) => settle(() => task.reject(error), false);
    const onExit = (code: number) => settle(() => task.reject(new Error(`A ${this.label} exited with code ${code}`)), false);
    // Only this task's own listeners go: the Worker keeps listeners of its own on itself.
    const settle = (finish: () => void, reusable: boolean) => {
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
      finish();
      if (reusable && !this.closed) this.idle.push(thread);
      else {
        this.started--;
        void thread.terminate();
      }
      this.dispatch();
    };
    thread.once('message', onMessage);
    thread.once('error', onError);
    thread.once('exit', onExit);
    thread.postMessage({ name: task.name, args: task.args });
  }
}
