import { PixelThreadLost, PixelThreads } from './pixel-threads';

const tasks = {
  doubled: (pixels: Uint8Array) => pixels.map((value) => value * 2),
  sum: (pixels: Uint8Array) => pixels.reduce((total, value) => total + value, 0),
  overwrite: (pixels: Uint8Array) => pixels.fill(0).length,
  itself: (pixels: Uint8Array) => pixels,
  threadId: (_pixels: Uint8Array, delayMs: number) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delayMs);
    return require('node:worker_threads').threadId as number;
  },
  refuse: (_pixels: Uint8Array, why: string) => {
    throw new Error(why);
  },
  exit: (_pixels: Uint8Array, code: number) => process.exit(code),
  failLater: () => {
    setTimeout(() => {
      throw new Error('after the reply');
    });
    return 'replied';
  },
};

const none = new Uint8Array(0);

describe('PixelThreads', () => {
  let pool: PixelThreads<typeof tasks>;

  beforeEach(() => {
    pool = new PixelThreads(tasks, 2);
  });

  afterEach(() => pool.close());

  it('runs a task in a thread on a copy of the pixels, and hands back the typed array it returns', async () => {
    const pixels = new Uint8Array([1, 2, 3]);
    const doubled = await pool.run('doubled', pixels);
    expect(doubled).toBeInstanceOf(Uint8Array);
    expect(Array.from(doubled)).toEqual([2, 4, 6]);
    expect(await pool.run('overwrite', pixels)).toBe(3);
    expect(Array.from(pixels)).toEqual([1, 2, 3]);
    expect(Array.from(await pool.run('itself', pixels))).toEqual([1, 2, 3]);
  });

  it('gives each task exactly its own pixels when a thread reuses its memory for smaller ones', async () => {
    const single = new PixelThreads(tasks, 1);
    try {
      expect(await single.run('sum', new Uint8Array(1000).fill(1))).toBe(1000);
      expect(await single.run('sum', new Uint8Array([5, 6]))).toBe(11);
      expect(await single.run('sum', new Uint8Array(40 * 1024 * 1024).fill(1))).toBe(40 * 1024 * 1024);
      expect(await single.run('sum', new Uint8Array([7]))).toBe(7);
    } finally {
      await single.close();
    }
  });

  it('runs no more tasks at once than it has threads, and every task queued', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, () => pool.run('threadId', none, 20)));
    expect(new Set(ids).size).toBe(2);
  });

  it('rejects with the task’s own error when the task throws, and the thread serves on', async () => {
    await expect(pool.run('refuse', none, 'not these pixels')).rejects.toThrow('not these pixels');
    const id = await pool.run('threadId', none, 0);
    await expect(pool.run('refuse', none, 'again')).rejects.not.toBeInstanceOf(PixelThreadLost);
    expect(await pool.run('threadId', none, 0)).toBe(id);
  });

  it('rejects only the task of a thread that dies, as lost, and starts another for the next', async () => {
    const neighbour = pool.run('threadId', none, 100);
    const lost = pool.run('exit', none, 3);
    const queued = pool.run('sum', new Uint8Array([4, 5]));
    await expect(lost).rejects.toBeInstanceOf(PixelThreadLost);
    await expect(lost).rejects.toThrow('exited with code 3');
    expect(await queued).toBe(9);
    expect(typeof (await neighbour)).toBe('number');
    expect(await pool.run('sum', new Uint8Array([1]))).toBe(1);
  });

  it('replaces a thread that fails while idle', async () => {
    const single = new PixelThreads(tasks, 1);
    try {
      const first = await single.run('threadId', none, 0);
      expect(await single.run('failLater', none)).toBe('replied');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = await single.run('threadId', none, 0);
      expect(second).not.toBe(first);
    } finally {
      await single.close();
    }
  });

  it('rejects arguments that cannot be sent, and serves on', async () => {
    await expect(pool.run('threadId', none, (() => 1) as unknown as number)).rejects.toThrow();
    expect(await pool.run('sum', new Uint8Array([7]))).toBe(7);
  });

  it('rejects what is queued or running when closed', async () => {
    const outcomes = Promise.allSettled(Array.from({ length: 3 }, () => pool.run('threadId', none, 200)));
    await pool.close();
    for (const outcome of await outcomes) expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(PixelThreadLost) });
  });
});
