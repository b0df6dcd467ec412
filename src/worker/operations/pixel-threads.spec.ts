import { PixelThreadLost, PixelThreads } from './pixel-threads';

const tasks = {
  doubled: (values: Uint8Array) => values.map((value) => value * 2),
  sum: (values: Uint8Array) => values.reduce((total, value) => total + value, 0),
  threadId: (delayMs: number) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delayMs);
    return require('node:worker_threads').threadId as number;
  },
  refuse: (why: string) => {
    throw new Error(why);
  },
  exit: (code: number) => process.exit(code),
  failLater: () => {
    setTimeout(() => {
      throw new Error('after the reply');
    });
    return 'replied';
  },
};

describe('PixelThreads', () => {
  let pool: PixelThreads<typeof tasks>;

  beforeEach(() => {
    pool = new PixelThreads(tasks, 2);
  });

  afterEach(() => pool.close());

  it('runs a task in a thread and transfers the buffers it is given and the typed array it returns', async () => {
    const values = new Uint8Array([1, 2, 3]);
    const doubled = await pool.run('doubled', [values], [values.buffer]);
    expect(values.byteLength).toBe(0);
    expect(doubled).toBeInstanceOf(Uint8Array);
    expect(Array.from(doubled)).toEqual([2, 4, 6]);
  });

  it('copies the arguments it is not told to transfer', async () => {
    const values = new Uint8Array([1, 2, 3]);
    expect(await pool.run('sum', [values])).toBe(6);
    expect(Array.from(values)).toEqual([1, 2, 3]);
  });

  it('runs no more tasks at once than it has threads, and every task queued', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, () => pool.run('threadId', [20])));
    expect(new Set(ids).size).toBe(2);
  });

  it('rejects with the task’s own error when the task throws, and the thread serves on', async () => {
    await expect(pool.run('refuse', ['not these pixels'])).rejects.toThrow('not these pixels');
    const id = await pool.run('threadId', [0]);
    await expect(pool.run('refuse', ['again'])).rejects.not.toBeInstanceOf(PixelThreadLost);
    expect(await pool.run('threadId', [0])).toBe(id);
  });

  it('rejects only the task of a thread that dies, as lost, and starts another for the next', async () => {
    const neighbour = pool.run('threadId', [100]);
    const lost = pool.run('exit', [3]);
    const queued = pool.run('sum', [new Uint8Array([4, 5])]);
    await expect(lost).rejects.toBeInstanceOf(PixelThreadLost);
    await expect(lost).rejects.toThrow('exited with code 3');
    expect(await queued).toBe(9);
    expect(typeof (await neighbour)).toBe('number');
    expect(await pool.run('sum', [new Uint8Array([1])])).toBe(1);
  });

  it('replaces a thread that fails while idle', async () => {
    expect(await pool.run('failLater', [])).toBe('replied');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await Promise.all([pool.run('sum', [new Uint8Array([1])]), pool.run('sum', [new Uint8Array([2])])])).toEqual([1, 2]);
  });

  it('rejects arguments that cannot be sent, and serves on', async () => {
    await expect(pool.run('sum', [(() => 1) as unknown as Uint8Array])).rejects.toThrow();
    expect(await pool.run('sum', [new Uint8Array([7])])).toBe(7);
  });

  it('rejects what is queued or running when closed', async () => {
    const outcomes = Promise.allSettled(Array.from({ length: 3 }, () => pool.run('threadId', [200])));
    await pool.close();
    for (const outcome of await outcomes) expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(PixelThreadLost) });
  });
});
