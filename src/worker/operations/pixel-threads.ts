import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

type Task = (pixels: Uint8Array, ...args: never[]) => unknown;
type Rest<T extends Task> = T extends (pixels: Uint8Array, ...args: infer A) => unknown ? A : never;

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
  pixels: Uint8Array;
  args: unknown[];
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  task?: Pending;
  /** Where this thread's tasks find their pixels: reused, so that copying them there faults in no new pages. */
  scratch?: SharedArrayBuffer;
}

/** Larger inputs (over about 10 MP of RGB) get a buffer of their own, so that a thread does not keep one for good. */
const MAX_SCRATCH_BYTES = 32 * 1024 * 1024;

/**
 * A few long-lived threads for the worker's JS pixel loops, which would otherwise hold the event
 * loop where BullMQ renews its job locks for milliseconds at a time. The tasks are plain
 * functions whose compiled source is the threads' program (as in ../aggregates/reducer-threads.ts),
 * so they may use nothing from outside their own bodies. A task's pixels are copied into memory
 * its thread shares with this one: sharp's buffers live outside V8's heap, where `postMessage`
 * cannot transfer them, only clone them, and a fresh copy to transfer costs as much again in page
 * faults on this VM as the loops themselves (6-7 ms for 6 MB). A typed array a task returns is
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
parentPort.on('message', ({ name, scratch, length, args }) => {
  let result;
  try {
    result = tasks[name](new Uint8Array(scratch, 0, length), ...args);
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
    return;
  }
  parentPort.postMessage({ result }, ArrayBuffer.isView(result) && result.buffer instanceof ArrayBuffer ? [result.buffer] : []);
});
`;
  }

  /** The task gets a copy of `pixels`, so the caller may go on using them. */
  run<Name extends keyof Tasks & string>(name: Name, pixels: Uint8Array, ...args: Rest<Tasks[Name]>): Promise<ReturnType<Tasks[Name]>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ name, pixels, args, resolve: resolve as (result: unknown) => void, reject });
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
        const scratch = this.scratchFor(thread, task.pixels.length);
        new Uint8Array(scratch, 0, task.pixels.length).set(task.pixels);
        thread.worker.postMessage({ name: task.name, scratch, length: task.pixels.length, args: task.args });
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

  private scratchFor(thread: Thread, bytes: number): SharedArrayBuffer {
    if (thread.scratch && thread.scratch.byteLength >= bytes) return thread.scratch;
    const scratch = new SharedArrayBuffer(bytes);
    if (bytes <= MAX_SCRATCH_BYTES) thread.scratch = scratch;
    return scratch;
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
