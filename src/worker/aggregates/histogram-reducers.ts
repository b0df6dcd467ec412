/*
 * The arithmetic of query and search jobs over histograms of 256 bins, held in blocks of rows
 * (`HistogramBlock`). These functions also run in worker threads built from their source text
 * (reducer-threads.ts), so each must stand alone: no imports, no reference outside itself. Each
 * reduces a part (a range of bins, or some of the blocks), so that several threads share a job.
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
  const buckets = new Int32Array(1 << 16);
  // The median of `values`, from min to max, exactly: count the values by their top 16 bits above
  // the minimum, find the buckets holding the middle rank(s), then sort those buckets alone.
  const middle = (values: Int32Array, min: number, max: number): number => {
    const n = values.length;
    if (min === max) return min;
    const shift = Math.max(0, 32 - Math.clz32(max - min) - 16);
    const used = ((max - min) >>> shift) + 1;
    buckets.fill(0, 0, used);
    for (let i = 0; i < n; i++) buckets[(values[i] - min) >>> shift]++;
    const low = (n - 1) >> 1;
    const high = n >> 1;
    let bucket = 0;
    let below = 0;
    while (below + buckets[bucket] <= low) below += buckets[bucket++];
    let upperBucket = bucket;
    let belowUpper = below;
    while (belowUpper + buckets[upperBucket] <= high) belowUpper += buckets[upperBucket++];
    if (shift === 0) return (min + bucket + min + upperBucket) / 2;
    const gathered = new Int32Array(belowUpper + buckets[upperBucket] - below);
    let filled = 0;
    for (let i = 0; i < n; i++) {
      const b = (values[i] - min) >>> shift;
      if (b >= bucket && b <= upperBucket) gathered[filled++] = values[i];
    }
    gathered.sort();
    return (gathered[low - below] + gathered[high - below]) / 2;
  };
  // Rows are 1 KB apart, so gathering one bin's column touches a cache line per value. Columns are
  // gathered 16 bins (a cache line) at a time, in tiles of rows small enough to stay in cache, and
  // their extremes are noted on the way rather than in another pass.
  const GROUP = 16;
  const TILE = 512;
  const columns = new Int32Array(Math.min(GROUP, endBin - firstBin) * count);
  const mins = new Int32Array(GROUP);
  const maxes = new Int32Array(GROUP);
  const median: number[] = [];
  for (let first = firstBin; first < endBin; first += GROUP) {
    const width = Math.min(GROUP, endBin - first);
    mins.fill(2147483647);
    maxes.fill(-2147483648);
    let placed = 0;
    for (const { bins, count: rows } of blocks) {
      for (let start = 0; start < rows; start += TILE) {
        const end = Math.min(rows, start + TILE);
        for (let g = 0; g < width; g++) {
          const column = g * count + placed;
          const bin = first + g;
          let min = mins[g];
          let max = maxes[g];
          for (let i = start; i < end; i++) {
            const value = bins[i * 256 + bin];
            columns[column + i] = value;
            if (value < min) min = value;
            if (value > max) max = value;
          }
          mins[g] = min;
          maxes[g] = max;
        }
      }
      placed += rows;
    }
    for (let g = 0; g < width; g++) median.push(middle(columns.subarray(g * count, (g + 1) * count), mins[g], maxes[g]));
  }
  return median;
}

/** The element-wise sums of the blocks' rows (exact: integer sums stay far below 2^53). */
export function sumOfBins(blocks: HistogramBlock[]): number[] {
  const sums = new Float64Array(256);
  for (const { bins, count } of blocks) {
    for (let i = 0; i < count; i++) for (let bin = 0; bin < 256; bin++) sums[bin] += bins[i * 256 + bin];
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
  for (const { bins, userIds, imageIds, count } of blocks) {
    for (let i = 0; i < count; i++) {
      const userId = userIds[i];
      if (userId === excludeUserId) continue;
      const offset = i * 256;
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
