/*
 * The arithmetic of query and search jobs over histograms of 256 bins, held in blocks of rows
 * (`HistogramBlock`: a block's first `count` rows, or the rows it names). These functions also
 * run in worker threads built from their source text (reducer-threads.ts), so each must stand
 * alone: no imports, no reference outside itself. Each reduces a part (a range of bins, or some
 * of the blocks), so that several threads share a job.
 */
import type { HistogramBlock } from '../../histograms/histogram-reader';

/** A user's closest histogram, before the square root: what the threads' parts are merged on. */
export interface NearestCandidate {
  user_id: number;
  image_id: number;
  squared: number;
}

/**
 * The element-wise median, as numpy defines it (the mean of the two middle values for an even
 * count), of bins `firstBin` up to `endBin` over all the blocks' rows.
 */
export function medianOfBins(blocks: HistogramBlock[], firstBin = 0, endBin = 256): number[] {
  const count = blocks.reduce((total, block) => total + block.count, 0);
  const low = (count - 1) >> 1;
  const high = count >> 1;
  const buckets = new Int32Array(1 << 16);
  // The bucket holding rank `rank` once the buckets are counted, and how many values lie below it.
  const bucketOf = (rank: number): { bucket: number; below: number } => {
    let bucket = 0;
    let below = 0;
    while (below + buckets[bucket] <= rank) below += buckets[bucket++];
    return { bucket, below };
  };
  // The median of `values`, exactly. Counts of pictures mostly fit in 16 bits: then one pass
  // counts the values themselves, noting on the way whether any did not fit. Otherwise the values
  // are counted by their top 16 bits above the minimum, and the buckets holding the middle ranks
  // are sorted alone.
  const middle = (values: Int32Array): number => {
    buckets.fill(0);
    let bits = 0;
    for (let i = 0; i < count; i++) {
      const value = values[i];
      buckets[value & 0xffff]++;
      bits |= value;
    }
    if ((bits & ~0xffff) === 0) return (bucketOf(low).bucket + bucketOf(high).bucket) / 2;
    let min = values[0];
    let max = values[0];
    for (let i = 1; i < count; i++) {
      const value = values[i];
      if (value < min) min = value;
      if (value > max) max = value;
    }
    if (min === max) return min;
    const shift = Math.max(0, 32 - Math.clz32(max - min) - 16);
    buckets.fill(0);
    for (let i = 0; i < count; i++) buckets[(values[i] - min) >>> shift]++;
    const lower = bucketOf(low);
    const upper = bucketOf(high);
    if (shift === 0) return (min + lower.bucket + min + upper.bucket) / 2;
    const gathered = new Int32Array(upper.below + buckets[upper.bucket] - lower.below);
    let filled = 0;
    for (let i = 0; i < count; i++) {
      const b = (values[i] - min) >>> shift;
      if (b >= lower.bucket && b <= upper.bucket) gathered[filled++] = values[i];
    }
    gathered.sort();
    return (gathered[low - lower.below] + gathered[high - lower.below]) / 2;
  };
  // Rows are 1 KB apart, so a bin's column takes a cache line per value. Columns are gathered 16
  // bins (a cache line) at a time, row by row; the copy is spelt out because this machine's V8
  // runs it twice as fast as a loop over the 16.
  const GROUP = 16;
  const columns = new Int32Array(Math.min(GROUP, endBin - firstBin) * count);
  const c = count;
  const median: number[] = [];
  for (let first = firstBin; first < endBin; first += GROUP) {
    const width = Math.min(GROUP, endBin - first);
    let a = 0;
    for (const { bins, count: taken, rows } of blocks) {
      for (let i = 0; i < taken; i++, a++) {
        const b = (rows === null ? i : rows[i]) * 256 + first;
        if (width < GROUP) {
          for (let g = 0; g < width; g++) columns[g * c + a] = bins[b + g];
          continue;
        }
        columns[a] = bins[b];
        columns[c + a] = bins[b + 1];
        columns[2 * c + a] = bins[b + 2];
        columns[3 * c + a] = bins[b + 3];
        columns[4 * c + a] = bins[b + 4];
        columns[5 * c + a] = bins[b + 5];
        columns[6 * c + a] = bins[b + 6];
        columns[7 * c + a] = bins[b + 7];
        columns[8 * c + a] = bins[b + 8];
        columns[9 * c + a] = bins[b + 9];
        columns[10 * c + a] = bins[b + 10];
        columns[11 * c + a] = bins[b + 11];
        columns[12 * c + a] = bins[b + 12];
        columns[13 * c + a] = bins[b + 13];
        columns[14 * c + a] = bins[b + 14];
        columns[15 * c + a] = bins[b + 15];
      }
    }
    for (let g = 0; g < width; g++) median.push(middle(columns.subarray(g * count, (g + 1) * count)));
  }
  return median;
}

/** The element-wise sums of the blocks' rows (exact: integer sums stay far below 2^53). */
export function sumOfBins(blocks: HistogramBlock[]): number[] {
  const sums = new Float64Array(256);
  for (const { bins, count, rows } of blocks) {
    for (let i = 0; i < count; i++) {
      const offset = (rows === null ? i : rows[i]) * 256;
      for (let bin = 0; bin < 256; bin++) sums[bin] += bins[offset + bin];
    }
  }
  return Array.from(sums);
}

/**
 * The `k` users, other than `excludeUserId`, whose histograms in these blocks are nearest
 * `target`: Euclidean distance between histograms normalised to sum 1, each user at the distance
 * of their closest histogram, ties broken by the smaller image id. Nearest first.
 */
export function nearestUsers(blocks: HistogramBlock[], target: number[], excludeUserId: number, k: number): NearestCandidate[] {
  const targetSum = target.reduce((sum, value) => sum + value, 0) || 1;
  const normalisedTarget = Float64Array.from(target, (value) => value / targetSum);
  const best = new Map<number, { squared: number; imageId: number }>();
  for (const { bins, rows, userIds, imageIds, count } of blocks) {
    for (let i = 0; i < count; i++) {
      const userId = userIds[i];
      if (userId === excludeUserId) continue;
      const offset = (rows === null ? i : rows[i]) * 256;
      let sum = 0;
      for (let bin = 0; bin < 256; bin++) sum += bins[offset + bin];
      const scale = sum === 0 ? 0 : 1 / sum;
      let squared = 0;
      for (let bin = 0; bin < 256; bin++) {
        const difference = bins[offset + bin] * scale - normalisedTarget[bin];
        squared += difference * difference;
      }
      const current = best.get(userId);
      const imageId = imageIds[i];
      if (!current || squared < current.squared || (squared === current.squared && imageId < current.imageId)) {
        best.set(userId, { squared, imageId });
      }
    }
  }
  return [...best.entries()]
    .sort(([, a], [, b]) => a.squared - b.squared || a.imageId - b.imageId)
    .slice(0, k)
    .map(([userId, { squared, imageId }]) => ({ user_id: userId, image_id: imageId, squared }));
}
