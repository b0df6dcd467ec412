import { Coalescer } from './coalescer';

/** A run that records its batches and waits until released, so the test decides when runs end. */
function gatedRun() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const run = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    return items.map((item) => (item < 0 ? new Error(`negative ${item}`) : item * 10));
  };
  return { batches, run, releaseAll: () => gates.splice(0).forEach((release) => release()) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Until the run's `finally` has scheduled the next batch and that batch has started. */
const settle = async () => {
  for (let turn = 0; turn < 5; turn++) await tick();
};

describe('Coalescer', () => {
  it('runs a lone item at once, alone', async () => {
    const { batches, run, releaseAll } = gatedRun();
    const coalescer = new Coalescer(run, 2, 100);
    const answer = coalescer.submit(1);
    await tick();
    expect(batches).toEqual([[1]]);
    releaseAll();
    await expect(answer).resolves.toBe(10);
  });

  it('batches what arrives while its runs are busy, in order, up to the batch size', async () => {
    const { batches, run, releaseAll } = gatedRun();
    const coalescer = new Coalescer(run, 1, 3);
    const answers = [1, 2, 3, 4, 5, 6].map((item) => coalescer.submit(item));
    await tick();
    expect(batches).toEqual([[1, 2, 3]]);
    releaseAll();
    await answers[0];
    await settle();
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    releaseAll();
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('never has more runs in flight than allowed', async () => {
    const { batches, run, releaseAll } = gatedRun();
    const coalescer = new Coalescer(run, 2, 1);
    const answers = [1, 2, 3].map((item) => coalescer.submit(item));
    await tick();
    expect(batches).toEqual([[1], [2]]);
    releaseAll();
    await Promise.all(answers.slice(0, 2));
    await settle();
    expect(batches).toEqual([[1], [2], [3]]);
    releaseAll();
    await answers[2];
  });

  it('answers an item its own error without failing the others', async () => {
    const { run, releaseAll } = gatedRun();
    const coalescer = new Coalescer(run, 1, 10);
    const good = coalescer.submit(2);
    const bad = coalescer.submit(-1);
    await tick();
    releaseAll();
    await expect(good).resolves.toBe(20);
    await expect(bad).rejects.toThrow('negative -1');
  });

  it('fails every item of a run that throws, and goes on with the next batch', async () => {
    let calls = 0;
    const coalescer = new Coalescer<number, number>(
      async (items) => {
        calls++;
        if (calls === 1) throw new Error('database gone');
        return items;
      },
      1,
      10,
    );
    const first = [coalescer.submit(1), coalescer.submit(2)];
    await expect(first[0]).rejects.toThrow('database gone');
    await expect(first[1]).rejects.toThrow('database gone');
    await expect(coalescer.submit(3)).resolves.toBe(3);
  });
});
