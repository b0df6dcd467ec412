import { CachedReading } from './cached-reading';

describe('CachedReading', () => {
  let clock: number;
  let reads: number;
  const counting = (ttlMs: number, fail = () => false) =>
    new CachedReading(
      ttlMs,
      async () => {
        reads++;
        if (fail()) throw new Error('unreachable');
        return reads;
      },
      () => clock,
    );

  beforeEach(() => {
    clock = 0;
    reads = 0;
  });

  it('reads once per ttl, and again once it has passed', async () => {
    const cached = counting(2000);
    expect(await cached.get()).toBe(1);
    clock = 1999;
    expect(await cached.get()).toBe(1);
    clock = 2000;
    expect(await cached.get()).toBe(2);
    expect(reads).toBe(2);
  });

  it('shares one read in flight between concurrent callers', async () => {
    const cached = counting(2000);
    const values = await Promise.all([cached.get(), cached.get(), cached.get()]);
    expect(values).toEqual([1, 1, 1]);
    expect(reads).toBe(1);
  });

  it('does not keep a failed read', async () => {
    let failing = true;
    const cached = counting(2000, () => failing);
    await expect(cached.get()).rejects.toThrow('unreachable');
    failing = false;
    expect(await cached.get()).toBe(2);
  });
});
