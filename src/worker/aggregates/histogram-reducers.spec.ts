import { HistogramStore, SelectedHistograms, StoreFilter } from '../../histograms/histogram-store';
import { medianOfBins, nearestUsers, sumOfBins } from './histogram-reducers';
import { binRanges, mergeNearest, ReducerThreads, tileRanges } from './reducer-threads';

/** Deterministic pseudo-random histograms, so a failure reproduces; `scale` makes counts large. */
function histograms(count: number, seed = 7, scale = 1): Int32Array {
  const rows = new Int32Array(count * 256);
  let state = seed;
  for (let i = 0; i < rows.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    rows[i] = (state % 1000) * scale + (i % 7);
  }
  return rows;
}

const userOf = (row: number) => row % 7;

/** A store of the rows, row i being histogram i + 1 of image 1000 + i of user i % 7. */
function storeOf(rows: Int32Array): HistogramStore {
  const store = new HistogramStore();
  const packed = Buffer.alloc(1024);
  for (let i = 0; i < rows.length / 256; i++) {
    for (let bin = 0; bin < 256; bin++) packed.writeInt32BE(rows[i * 256 + bin], bin * 4);
    store.putPacked({ histogramId: i + 1, imageId: 1000 + i, userId: userOf(i), imageTypeId: 1, createdMicros: i }, packed, 0);
  }
  return store;
}

const every: StoreFilter = { userId: null, imageTypeId: null, sinceMicros: null, limit: null };

/** The rows of `rows` a filter on user keeps, for the references. */
function rowsOfUser(rows: Int32Array, userId: number | null): { rows: Int32Array; indexes: number[] } {
  const indexes = Array.from({ length: rows.length / 256 }, (_, i) => i).filter((i) => userId === null || userOf(i) === userId);
  const kept = new Int32Array(indexes.length * 256);
  indexes.forEach((row, i) => kept.set(rows.subarray(row * 256, (row + 1) * 256), i * 256));
  return { rows: kept, indexes };
}

/** numpy's median, the slow obvious way: sort each column. */
function referenceMedian(rows: Int32Array): number[] {
  const count = rows.length / 256;
  return Array.from({ length: 256 }, (_, bin) => {
    const column = Array.from({ length: count }, (__, i) => rows[i * 256 + bin]).sort((a, b) => a - b);
    return count % 2 ? column[(count - 1) / 2] : (column[count / 2 - 1] + column[count / 2]) / 2;
  });
}

/** scikit-learn's neighbours over normalised rows, each user at their closest, row by row. */
function referenceNearest(rows: Int32Array, indexes: number[], target: number[], exclude: number, k: number) {
  const targetSum = target.reduce((a, b) => a + b, 0) || 1;
  const best = new Map<number, { distance: number; image: number }>();
  indexes.forEach((row, i) => {
    const values = rows.subarray(i * 256, (i + 1) * 256);
    const sum = values.reduce((a, b) => a + b, 0);
    let squared = 0;
    for (let bin = 0; bin < 256; bin++) squared += (values[bin] * (sum === 0 ? 0 : 1 / sum) - target[bin] / targetSum) ** 2;
    const user = userOf(row);
    const current = best.get(user);
    if (user !== exclude && (!current || squared < current.distance || (squared === current.distance && 1000 + row < current.image))) {
      best.set(user, { distance: squared, image: 1000 + row });
    }
  });
  return [...best.entries()]
    .sort(([, a], [, b]) => a.distance - b.distance || a.image - b.image)
    .slice(0, k)
    .map(([user, { distance, image }]) => ({ user_id: user, image_id: image, distance: Math.sqrt(distance) }));
}

const median = (selected: SelectedHistograms, first = 0, end = 256) =>
  medianOfBins(selected.tiles, selected.mask, selected.tileCounts, selected.count, first, end);
const sums = (selected: SelectedHistograms) => sumOfBins(selected.tiles, selected.mask, selected.tileCounts, 0, 256);
const nearest = (selected: SelectedHistograms, target: number[], exclude: number, k: number) =>
  mergeNearest([nearestUsers(selected.tiles, selected.mask, selected.tileCounts, 0, selected.tiles.length, target, exclude, k)], k);

describe('histogram reducers', () => {
  it.each([1, 2, 7, 100, 1025, 2100])('take the median of %i histograms as numpy does, across tiles', (count) => {
    const rows = histograms(count, count);
    expect(median(storeOf(rows).select(every))).toEqual(referenceMedian(rows));
  });

  it('take the median of a range of bins alone', () => {
    const rows = histograms(33);
    expect(median(storeOf(rows).select(every), 96, 200)).toEqual(referenceMedian(rows).slice(96, 200));
  });

  it('take exact medians of counts above 16 bits, in 32-bit tiles beside 16-bit ones, whichever side of 65535 the middle falls', () => {
    const small = histograms(1100, 3);
    const large = histograms(1100, 5, 1_000_003);
    const rows = new Int32Array([...small, ...large]);
    const store = storeOf(rows);
    expect(store.tiles.map((tile) => tile.wide !== null)).toEqual([false, true, true]);
    expect(median(store.select(every))).toEqual(referenceMedian(rows));
    const mostlyLarge = new Int32Array([...small.subarray(0, 300 * 256), ...large]);
    expect(median(storeOf(mostlyLarge).select(every))).toEqual(referenceMedian(mostlyLarge));
    const exactlyTop = new Int32Array(3 * 256).fill(65535);
    exactlyTop[0] = 70000;
    expect(median(storeOf(exactlyTop).select(every)).slice(0, 2)).toEqual([65535, 65535]);
  });

  it('handle repeated values in the median', () => {
    const rows = new Int32Array(4 * 256).fill(5);
    rows[0] = 1;
    expect(median(storeOf(rows).select(every)).slice(0, 2)).toEqual([5, 5]);
  });

  it('reduce only the rows the selection marks, and none deleted', () => {
    const rows = histograms(1500, 5, 97);
    const store = storeOf(rows);
    const mine = store.select({ ...every, userId: 2 });
    const reference = rowsOfUser(rows, 2);
    expect(mine.count).toBe(reference.indexes.length);
    expect(median(mine)).toEqual(referenceMedian(reference.rows));
    expect(sums(mine)).toEqual(
      referenceMedian(reference.rows).map((_, bin) => reference.rows.filter((__, i) => i % 256 === bin).reduce((a, b) => a + b)),
    );
    const target = Array.from(rows.subarray(256, 512));
    expect(nearest(store.select(every), target, 2, 5)).toEqual(referenceNearest(rows, rowsOfUser(rows, null).indexes, target, 2, 5));
    store.remove(1);
    const rest = store.select(every);
    expect(rest.count).toBe(1499);
    expect(median(rest)).toEqual(referenceMedian(rows.subarray(256)));
  });

  it("find each user's nearest histogram, nearest users first, ties by image id, excluding the asker", () => {
    const rows = new Int32Array(5 * 256);
    const target = Array(256).fill(0);
    target[0] = 10;
    const put = (row: number, bins: Record<number, number>) =>
      Object.entries(bins).forEach(([bin, value]) => (rows[row * 256 + Number(bin)] = value));
    put(0, { 0: 4 }); // user 0: identical shape → distance 0
    put(1, { 0: 1, 1: 1 }); // user 1: sqrt(0.5)
    put(2, { 1: 3 }); // user 2: sqrt(2)
    put(3, { 0: 7 }); // user 3: distance 0, larger image id than user 0's
    put(4, { 0: 9 }); // user 4, the asker
    expect(nearest(storeOf(rows).select(every), target, 4, 10)).toEqual([
      { user_id: 0, image_id: 1000, distance: 0 },
      { user_id: 3, image_id: 1003, distance: 0 },
      { user_id: 1, image_id: 1001, distance: Math.sqrt(0.5) },
      { user_id: 2, image_id: 1002, distance: Math.sqrt(2) },
    ]);
  });

  it('cut the bins and the tiles into even parts', () => {
    expect(binRanges(2)).toEqual([
      [0, 128],
      [128, 256],
    ]);
    expect(binRanges(3).flat()).toEqual([0, 85, 85, 170, 170, 256]);
    expect(tileRanges(Int32Array.from([10, 0, 10, 10]), 4, 2)).toEqual([
      [0, 3],
      [3, 4],
    ]);
    expect(tileRanges(Int32Array.from([5]), 1, 2)).toEqual([[0, 1]]);
  });

  it('give the same results shared between worker threads as computed here, job after job', async () => {
    const threads = new ReducerThreads();
    try {
      const rows = histograms(2500, 9, 300);
      const store = storeOf(rows);
      const selected = store.select(every);
      const target = Array.from(rows.subarray(256, 512));
      for (let job = 0; job < 2; job++) {
        expect(await threads.median(selected)).toEqual(referenceMedian(rows));
        expect(await threads.mean(selected)).toEqual(sums(selected).map((sum) => sum / 2500));
        expect(await threads.nearest(selected, target, 0, 5)).toEqual(nearest(selected, target, 0, 5));
      }
      const limited = store.select({ ...every, limit: 10 });
      expect(await threads.median(limited)).toEqual(referenceMedian(rows.subarray(2490 * 256)));
    } finally {
      await threads.onModuleDestroy();
    }
  });
});
