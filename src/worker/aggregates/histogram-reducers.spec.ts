import { meanOfBins, medianOfBins, nearestUsers } from './histogram-reducers';
import { runReducer } from './reducer-thread';

/** Deterministic pseudo-random histograms, so a failure reproduces. */
function histograms(count: number, seed = 7): Int32Array {
  const rows = new Int32Array(count * 256);
  let state = seed;
  for (let i = 0; i < rows.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    rows[i] = state % 1000;
  }
  return rows;
}

/** numpy's median, the slow obvious way: sort each column. */
function referenceMedian(rows: Int32Array, count: number): number[] {
  return Array.from({ length: 256 }, (_, bin) => {
    const column = Array.from({ length: count }, (__, i) => rows[i * 256 + bin]).sort((a, b) => a - b);
    return count % 2 ? column[(count - 1) / 2] : (column[count / 2 - 1] + column[count / 2]) / 2;
  });
}

describe('histogram reducers', () => {
  it.each([1, 2, 7, 100, 1001])('take the median of %i histograms as numpy does', (count) => {
    const rows = histograms(count, count);
    expect(medianOfBins(rows.slice(), count)).toEqual(referenceMedian(rows, count));
  });

  it('take exact medians of large counts, which the selection buckets by their top bits', () => {
    const rows = histograms(501, 3).map((value, i) => value * 1_000_003 + (i % 977));
    expect(medianOfBins(rows.slice(), 501)).toEqual(referenceMedian(rows, 501));
    const even = rows.slice(0, 500 * 256);
    expect(medianOfBins(even.slice(), 500)).toEqual(referenceMedian(even, 500));
  });

  it('handle repeated values in the median', () => {
    const rows = new Int32Array(4 * 256).fill(5);
    rows[0] = 1;
    expect(medianOfBins(rows, 4)[0]).toBe(5);
    expect(medianOfBins(rows, 4)[1]).toBe(5);
  });

  it('take the mean', () => {
    const rows = histograms(10);
    const expected = Array.from({ length: 256 }, (_, bin) => Array.from({ length: 10 }, (__, i) => rows[i * 256 + bin]).reduce((a, b) => a + b) / 10);
    expect(meanOfBins(rows, 10)).toEqual(expected.map((value) => expect.closeTo(value, 9)));
  });

  it("find each user's nearest histogram, nearest users first, ties by image id, excluding the asker", () => {
    const rows = new Int32Array(5 * 256);
    const target = Array(256).fill(0);
    target[0] = 10;
    const put = (row: number, bins: Record<number, number>) => Object.entries(bins).forEach(([bin, value]) => (rows[row * 256 + Number(bin)] = value));
    put(0, { 0: 4 }); // user 1: identical shape → distance 0
    put(1, { 0: 1, 1: 1 }); // user 2: sqrt(0.5)
    put(2, { 1: 3 }); // user 2 again, farther: sqrt(2)
    put(3, { 0: 7 }); // user 3: distance 0, larger image id than user 1's
    put(4, { 0: 9 }); // user 9, the asker
    const users = Int32Array.from([1, 2, 2, 3, 9]);
    const images = Int32Array.from([10, 20, 21, 5, 1]);
    expect(nearestUsers(rows, users, images, 5, target, 9, 10)).toEqual([
      { user_id: 3, image_id: 5, distance: 0 },
      { user_id: 1, image_id: 10, distance: 0 },
      { user_id: 2, image_id: 20, distance: Math.sqrt(0.5) },
    ]);
    expect(nearestUsers(rows, users, images, 5, target, 9, 1)).toHaveLength(1);
  });

  it('give the same results in a worker thread, with the rows moved there', async () => {
    const rows = histograms(301);
    const expected = referenceMedian(rows, 301);
    const copy = rows.slice();
    expect(await runReducer('medianOfBins', [copy, 301], [copy.buffer as ArrayBuffer])).toEqual(expected);
    expect(copy.length).toBe(0);
  });
});
