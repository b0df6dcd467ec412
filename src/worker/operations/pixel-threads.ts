import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

type Task = (...args: never[]) => unknown;

/**
 * A pool thread died while it held a task (out of memory, killed): nothing says the task itself is
 * at fault, so the step that asked for it may be retried, and a new thread takes the next task.
 */
export class PixelThreadLost extends Error {
  constructor(reason: string) {
    super(`A pixel thread was lost: ${reason}`);
    this.name = 'PixelThreadLost';
  }
}

interface Pending {
  name: string;
  args: unknown[];
  transfer: ArrayBuffer[];
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  task?: Pending;
}

/**
 * A few long-lived threads for the worker's JS pixel loops, which would otherwise hold the event
 * loop where BullMQ renews its job locks for milliseconds at a time. The tasks are plain
 * functions whose compiled source is the threads' program (as in ../aggregates/reducer-threads.ts),
 * so they may use nothing from outside their own bodies; a typed array a task returns is
 * transferred back, not copied. Threads start on first use and hold the process open only while
 * they work.
 */
export class PixelThreads<Tasks extends Record<string, Task>> {
  private readonly program: string;
  private readonly threads = new Set<Thread>();
  private readonly queue: Pending[] = [];

  constructor(
    tasks: Tasks,
    private readonly size = availableParallelism(),
  ) {
    this.program = `
const { parentPort } = require('node:worker_threads');
const tasks = { ${Object.entries(tasks)
      .map(([name, task]) => `${JSON.stringify(name)}: ${task.toString()}`)
      .join(',\n')} };
parentPort.on('message', ({ name, args }) => {
  let result;
  try {
    result = tasks[name](...args);
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
    return;
  }
  parentPort.postMessage({ result }, ArrayBuffer.isView(result) ? [result.buffer] : []);
});
`;
  }

  /** `transfer` lists buffers of `args` to move to the thread: they are unusable here afterwards. */
  run<Name extends keyof Tasks & string>(name: Name, args: Parameters<Tasks[Name]>, transfer: ArrayBuffer[] = []): Promise<ReturnType<Tasks[Name]>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ name, args, transfer, resolve: resolve as (result: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Ends every thread; a task still queued or running is rejected as lost. */
  async close(): Promise<void> {
    const threads = [...this.threads];
    this.threads.clear();
    for (const pending of this.queue.splice(0)) pending.reject(new PixelThreadLost('the pool was closed'));
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  private dispatch(): void {
    for (let thread = this.idleThread(); thread && this.queue.length > 0; thread = this.idleThread()) {
      const task = this.queue.shift()!;
      thread.task = task;
      thread.worker.ref();
      try {
        thread.worker.postMessage({ name: task.name, args: task.args }, task.transfer);
      } catch (error) {
        // Arguments that cannot be cloned: the thread never saw the task and stays idle.
        this.idle(thread);
        task.reject(error as Error);
      }
    }
  }

  private idleThread(): Thread | undefined {
    for (const thread of this.threads) if (!thread.task) return thread;
    return this.threads.size < this.size && this.queue.length > 0 ? this.spawn() : undefined;
  }

  private idle(thread: Thread): Pending | undefined {
    const task = thread.task;
    thread.task = undefined;
    thread.worker.unref();
    return task;
  }

  private spawn(): Thread {
    const thread: Thread = { worker: new Worker(this.program, { eval: true }) };
    this.threads.add(thread);
    thread.worker.on('message', (reply: { result?: unknown; error?: string }) => {
      const task = this.idle(thread);
      if (reply.error === undefined) task?.resolve(reply.result);
      else task?.reject(new Error(reply.error));
      this.dispatch();
    });
    thread.worker.on('messageerror', (error) => {
      this.idle(thread)?.reject(error);
      this.dispatch();
    });
    // An uncaught error is followed by the exit: whichever comes first retires the thread.
    const lost = (reason: string) => {
      this.threads.delete(thread);
      const task = thread.task;
      thread.task = undefined;
      task?.reject(new PixelThreadLost(reason));
      this.dispatch();
    };
    thread.worker.on('error', (error) => lost(error.message));
    thread.worker.on('exit', (code) => lost(`it exited with code ${code}`));
    return thread;
  }
}
