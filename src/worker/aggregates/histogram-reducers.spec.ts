import type { HistogramBlock, SelectedHistograms } from '../../histograms/histogram-reader';
import { medianOfBins, nearestUsers, sumOfBins } from './histogram-reducers';
import { meanInThreads, medianInThreads, mergeNearest, nearestInThreads } from './reducer-threads';

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

/** The rows cut into blocks of uneven sizes in shared memory; row i is image 1000 + i of user i % 7. */
function blocksOf(rows: Int32Array, sizes = [1, 2, 5, 64]): HistogramBlock[] {
  const count = rows.length / 256;
  const blocks: HistogramBlock[] = [];
  for (let start = 0, b = 0; start < count; b++) {
    const size = Math.min(sizes[b % sizes.length], count - start);
    const bins = new Int32Array(new SharedArrayBuffer(size * 1024));
    bins.set(rows.subarray(start * 256, (start + size) * 256));
    const imageIds = new Int32Array(new SharedArrayBuffer(size * 4)).map((_, i) => 1000 + start + i);
    const userIds = new Int32Array(new SharedArrayBuffer(size * 4)).map((_, i) => (start + i) % 7);
    blocks.push({ count: size, bins, rows: null, imageIds, userIds });
    start += size;
  }
  return blocks;
}

/**
 * Every other row of `rows`, picked out of one block by row number as the histogram cache picks
 * a selection: the reducers must see those rows and no others.
 */
function everyOtherRow(rows: Int32Array): { picked: Int32Array; blocks: HistogramBlock[]; copied: HistogramBlock[] } {
  const count = rows.length / 256;
  const bins = new Int32Array(new SharedArrayBuffer(rows.length * 4));
  bins.set(rows);
  const chosen = Int32Array.from({ length: Math.ceil(count / 2) }, (_, i) => 2 * i);
  const picked = new Int32Array(chosen.length * 256);
  chosen.forEach((row, i) => picked.set(rows.subarray(row * 256, (row + 1) * 256), i * 256));
  const block = {
    count: chosen.length,
    bins,
    rows: chosen,
    imageIds: chosen.map((row) => 1000 + row),
    userIds: chosen.map((row) => row % 7),
  };
  return { picked, blocks: [block], copied: [{ ...block, bins: picked, rows: null }] };
}

function selection(rows: Int32Array): SelectedHistograms {
  return { count: rows.length / 256, blocks: blocksOf(rows) };
}

/** numpy's median, the slow obvious way: sort each column. */
function referenceMedian(rows: Int32Array, count: number): number[] {
  return Array.from({ length: 256 }, (_, bin) => {
    const column = Array.from({ length: count }, (__, i) => rows[i * 256 + bin]).sort((a, b) => a - b);
    return count % 2 ? column[(count - 1) / 2] : (column[count / 2 - 1] + column[count / 2]) / 2;
  });
}

describe('histogram reducers', () => {
  it.each([1, 2, 7, 100, 1001])('take the median of %i histograms as numpy does, across blocks', (count) => {
    const rows = histograms(count, count);
    expect(medianOfBins(blocksOf(rows))).toEqual(referenceMedian(rows, count));
  });

  it('take the median of a range of bins alone', () => {
    const rows = histograms(33);
    expect(medianOfBins(blocksOf(rows), 96, 200)).toEqual(referenceMedian(rows, 33).slice(96, 200));
  });

  it('take exact medians of large counts, which the selection buckets by their top bits', () => {
    const rows = histograms(501, 3).map((value, i) => value * 1_000_003 + (i % 977));
    expect(medianOfBins(blocksOf(rows))).toEqual(referenceMedian(rows, 501));
    const even = rows.slice(0, 500 * 256);
    expect(medianOfBins(blocksOf(even))).toEqual(referenceMedian(even, 500));
  });

  it('handle repeated values in the median', () => {
    const rows = new Int32Array(4 * 256).fill(5);
    rows[0] = 1;
    expect(medianOfBins(blocksOf(rows)).slice(0, 2)).toEqual([5, 5]);
  });

  it('reduce only the rows a block names', () => {
    const rows = histograms(41, 5);
    const { picked, blocks, copied } = everyOtherRow(rows);
    expect(medianOfBins(blocks)).toEqual(referenceMedian(picked, 21));
    expect(sumOfBins(blocks)).toEqual(sumOfBins(copied));
    const target = Array.from(rows.subarray(256, 512));
    expect(nearestUsers(blocks, target, 2, 5)).toEqual(nearestUsers(copied, target, 2, 5));
  });

  it('sum the bins', () => {
    const rows = histograms(10);
    const expected = Array.from({ length: 256 }, (_, bin) =>
      Array.from({ length: 10 }, (__, i) => rows[i * 256 + bin]).reduce((a, b) => a + b),
    );
    expect(sumOfBins(blocksOf(rows))).toEqual(expected);
  });

  it("find each user's nearest histogram, nearest users first, ties by image id, excluding the asker", () => {
    const rows = new Int32Array(5 * 256);
    const target = Array(256).fill(0);
    target[0] = 10;
    const put = (row: number, bins: Record<number, number>) =>
      Object.entries(bins).forEach(([bin, value]) => (rows[row * 256 + Number(bin)] = value));
    put(0, { 0: 4 }); // user 1: identical shape → distance 0
    put(1, { 0: 1, 1: 1 }); // user 2: sqrt(0.5)
    put(2, { 1: 3 }); // user 2 again, farther: sqrt(2)
    put(3, { 0: 7 }); // user 3: distance 0, larger image id than user 1's
    put(4, { 0: 9 }); // user 9, the asker
    const block: HistogramBlock = {
      count: 5,
      bins: rows,
      rows: null,
      userIds: Int32Array.from([1, 2, 2, 3, 9]),
      imageIds: Int32Array.from([10, 20, 21, 5, 1]),
    };
    const expected = [
      { user_id: 3, image_id: 5, distance: 0 },
      { user_id: 1, image_id: 10, distance: 0 },
      { user_id: 2, image_id: 20, distance: Math.sqrt(0.5) },
    ];
    expect(mergeNearest([nearestUsers([block], target, 9, 10)], 10)).toEqual(expected);
    expect(nearestUsers([block], target, 9, 1)).toHaveLength(1);
  });

  it("merge the threads' parts into the same neighbours as one pass over everything", () => {
    const rows = histograms(400, 11);
    const blocks = blocksOf(rows);
    const target = Array.from(rows.subarray(0, 256));
    const whole = mergeNearest([nearestUsers(blocks, target, 3, 4)], 4);
    const parts = [
      nearestUsers(
        blocks.filter((_, i) => i % 2 === 0),
        target,
        3,
        4,
      ),
      nearestUsers(
        blocks.filter((_, i) => i % 2 === 1),
        target,
        3,
        4,
      ),
    ];
    expect(mergeNearest(parts, 4)).toEqual(whole);
    expect(whole.map((neighbor) => neighbor.user_id)).not.toContain(3);
  });

  it('give the same results shared between worker threads as computed here', async () => {
    const rows = histograms(301);
    const selected = selection(rows);
    const target = Array.from(rows.subarray(256, 512));
    expect(await medianInThreads(selected, 3)).toEqual(referenceMedian(rows, 301));
    expect(await meanInThreads(selected, 3)).toEqual(sumOfBins(selected.blocks).map((sum) => sum / 301));
    expect(await nearestInThreads(selected, target, 0, 5, 3)).toEqual(mergeNearest([nearestUsers(selected.blocks, target, 0, 5)], 5));
  });
});
