import { threadId } from 'node:worker_threads';
import { FunctionThreads } from './function-threads';

/** Adds one to each element where it lies, in shared memory, and answers the thread's id. */
function addOne(values: Int32Array): number {
  for (let i = 0; i < values.length; i++) values[i] += 1;
  return require('node:worker_threads').threadId as number; // eslint-disable-line @typescript-eslint/no-require-imports
}

function fail(message: string): never {
  throw new Error(message);
}

function exit(code: number): void {
  process.exit(code);
}

/** Busy for `ms`, then answers its thread's id: keeps a thread taken while other calls queue. */
function busyThread(ms: number): number {
  const until = Date.now() + ms;
  while (Date.now() < until);
  return require('node:worker_threads').threadId as number; // eslint-disable-line @typescript-eslint/no-require-imports
}

/** Busy for `ms`, then answers `value`. */
function busy(ms: number, value: number): number {
  const until = Date.now() + ms;
  while (Date.now() < until);
  return value;
}

describe('FunctionThreads', () => {
  let threads: FunctionThreads<{
    addOne: typeof addOne;
    fail: typeof fail;
    exit: typeof exit;
    busy: typeof busy;
    busyThread: typeof busyThread;
  }>;

  beforeEach(() => (threads = new FunctionThreads({ addOne, fail, exit, busy, busyThread }, 2, 'test thread')));
  afterEach(() => threads.close());

  it('runs each function from its source off this thread, on shared memory, reusing its threads', async () => {
    const values = new Int32Array(new SharedArrayBuffer(16)).fill(1);
    const ids = new Set<number>();
    for (let call = 0; call < 6; call++) ids.add(await threads.run('addOne', values));
    expect([...values]).toEqual([7, 7, 7, 7]);
    expect(ids.has(threadId)).toBe(false);
    expect(ids.size).toBe(1);
  });

  it('runs as many calls at once as it has threads, and queues the rest', async () => {
    const ids = await Promise.all([0, 1, 2, 3, 4].map(() => threads.run('busyThread', 50)));
    expect(new Set(ids).size).toBe(2);
  });

  it('fails the call whose function throws, naming the error, and goes on', async () => {
    await expect(threads.run('fail', 'no such bin')).rejects.toThrow(/A test thread failed: Error: no such bin/);
    await expect(threads.run('busy', 0, 5)).resolves.toBe(5);
  });

  it('fails the call whose thread exits, and replaces the thread', async () => {
    await expect(threads.run('exit', 3)).rejects.toThrow('A test thread exited with code 3');
    await expect(threads.run('busy', 0, 6)).resolves.toBe(6);
  });

  it('once closed, fails the calls not started and any new one; a running call still ends', async () => {
    const running = [threads.run('busy', 100, 1), threads.run('busy', 100, 2)];
    const queued = threads.run('busy', 0, 3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await threads.close();
    await expect(queued).rejects.toThrow('The test threads were closed');
    await expect(Promise.all(running)).resolves.toEqual([1, 2]);
    await expect(threads.run('busy', 0, 4)).rejects.toThrow('The test threads are closed');
  });
});
