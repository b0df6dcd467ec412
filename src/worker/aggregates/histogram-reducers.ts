/*
 * The arithmetic of query and search jobs over histograms of 256 bins held in tiles of 1024 rows,
 * column-major (histogram-store.ts), of which a job takes the rows its mask marks. These functions
 * also run in worker threads built from their source text (reducer-threads.ts), so each must stand
 * alone: no imports, no reference outside itself (the tile's shape is spelt out as literals). Each
 * reduces a part — a range of bins, or a range of tiles — so that several threads share a job.
 */
import type { TileView } from '../../histograms/histogram-store';

/** A user's closest histogram, before the square root: what the threads' parts are merged on. */
export interface NearestCandidate {
  user_id: number;
  image_id: number;
  squared: number;
}

/**
 * The element-wise median, as numpy defines it (the mean of the two middle values for an even
 * count), of bins `firstBin` up to `endBin` over the `count` rows the mask marks. Exact, by
 * counting: each bin's values are counted by value, up to 65535; the values at or above it (only
 * 32-bit tiles hold any above) are gathered and sorted only when a middle rank falls among them.
 */
export function medianOfBins(
  tiles: TileView[],
  mask: Uint8Array,
  tileCounts: Int32Array,
  count: number,
  firstBin: number,
  endBin: number,
): number[] {
  const ROWS = 1024;
  const TOP = 0xffff;
  const low = (count - 1) >> 1;
  const high = count >> 1;
  const buckets = new Int32Array(TOP + 1);
  const median: number[] = [];
  for (let bin = firstBin; bin < endBin; bin++) {
    buckets.fill(0);
    const base = bin * ROWS;
    for (let t = 0; t < tiles.length; t++) {
      const taken = tileCounts[t];
      if (taken === 0) continue;
      const { count: rows, narrow, wide } = tiles[t];
      const at = t * ROWS;
      if (narrow !== null) {
        if (taken === rows) for (let row = 0; row < rows; row++) buckets[narrow[base + row]]++;
        else for (let row = 0; row < rows; row++) if (mask[at + row] !== 0) buckets[narrow[base + row]]++;
      } else {
        for (let row = 0; row < rows; row++) {
          if (taken !== rows && mask[at + row] === 0) continue;
          const value = wide![base + row];
          buckets[value < TOP ? value : TOP]++;
        }
      }
    }
    let below = 0;
    let bucket = 0;
    while (below + buckets[bucket] <= low) below += buckets[bucket++];
    const lowBucket = bucket;
    while (below + buckets[bucket] <= high) below += buckets[bucket++];
    const highBucket = bucket;
    if (highBucket < TOP) {
      median.push((lowBucket + highBucket) / 2);
      continue;
    }
    const top = new Float64Array(buckets[TOP]);
    let filled = 0;
    for (let t = 0; t < tiles.length; t++) {
      if (tileCounts[t] === 0) continue;
      const { count: rows, narrow, wide } = tiles[t];
      const values = narrow ?? wide!;
      for (let row = 0; row < rows; row++) {
        if (mask[t * ROWS + row] === 0) continue;
        const value = values[base + row];
        if (value >= TOP) top[filled++] = value;
      }
    }
    top.sort();
    const underTop = count - top.length;
    const lowValue = lowBucket < TOP ? lowBucket : top[low - underTop];
    median.push((lowValue + top[high - underTop]) / 2);
  }
  return median;
}

/** The element-wise sums of bins `firstBin` up to `endBin` over the masked rows (exact: integer sums stay far below 2^53). */
export function sumOfBins(tiles: TileView[], mask: Uint8Array, tileCounts: Int32Array, firstBin: number, endBin: number): number[] {
  const ROWS = 1024;
  const sums: number[] = [];
  for (let bin = firstBin; bin < endBin; bin++) {
    let sum = 0;
    const base = bin * ROWS;
    for (let t = 0; t < tiles.length; t++) {
      const taken = tileCounts[t];
      if (taken === 0) continue;
      const { count: rows, narrow, wide } = tiles[t];
      const values = narrow ?? wide!;
      for (let row = 0; row < rows; row++) if (taken === rows || mask[t * ROWS + row] !== 0) sum += values[base + row];
    }
    sums.push(sum);
  }
  return sums;
}

/**
 * The `k` users, other than `excludeUserId`, whose masked histograms in tiles `firstTile` up to
 * `endTile` are nearest `target`: Euclidean distance between histograms normalised to sum 1, each
 * user at the distance of their closest histogram, ties broken by the smaller image id. Nearest
 * first. A tile's distances are summed bin by bin over its rows, each row's terms in bin order.
 */
export function nearestUsers(
  tiles: TileView[],
  mask: Uint8Array,
  tileCounts: Int32Array,
  firstTile: number,
  endTile: number,
  target: number[],
  excludeUserId: number,
  k: number,
): NearestCandidate[] {
  const ROWS = 1024;
  const BINS = 256;
  const targetSum = target.reduce((sum, value) => sum + value, 0) || 1;
  const normalisedTarget = Float64Array.from(target, (value) => value / targetSum);
  const squared = new Float64Array(ROWS);
  const scale = new Float64Array(ROWS);
  const best = new Map<number, { squared: number; imageId: number }>();
  for (let t = firstTile; t < endTile; t++) {
    if (tileCounts[t] === 0) continue;
    const { count: rows, narrow, wide, sums, userIds, imageIds } = tiles[t];
    const values = narrow ?? wide!;
    for (let row = 0; row < rows; row++) {
      squared[row] = 0;
      scale[row] = sums[row] === 0 ? 0 : 1 / sums[row];
    }
    // Eight bins a pass, so that each row's running sum is loaded and stored an eighth as often;
    // the terms are still added one by one in bin order, as a row-by-row loop would.
    for (let bin = 0; bin < BINS; bin += 8) {
      const base = bin * ROWS;
      const w0 = normalisedTarget[bin];
      const w1 = normalisedTarget[bin + 1];
      const w2 = normalisedTarget[bin + 2];
      const w3 = normalisedTarget[bin + 3];
      const w4 = normalisedTarget[bin + 4];
      const w5 = normalisedTarget[bin + 5];
      const w6 = normalisedTarget[bin + 6];
      const w7 = normalisedTarget[bin + 7];
      for (let row = 0; row < rows; row++) {
        const s = scale[row];
        const at = base + row;
        const d0 = values[at] * s - w0;
        const d1 = values[at + ROWS] * s - w1;
        const d2 = values[at + 2 * ROWS] * s - w2;
        const d3 = values[at + 3 * ROWS] * s - w3;
        const d4 = values[at + 4 * ROWS] * s - w4;
        const d5 = values[at + 5 * ROWS] * s - w5;
        const d6 = values[at + 6 * ROWS] * s - w6;
        const d7 = values[at + 7 * ROWS] * s - w7;
        let sum = squared[row];
        sum += d0 * d0;
        sum += d1 * d1;
        sum += d2 * d2;
        sum += d3 * d3;
        sum += d4 * d4;
        sum += d5 * d5;
        sum += d6 * d6;
        sum += d7 * d7;
        squared[row] = sum;
      }
    }
    for (let row = 0; row < rows; row++) {
      if (mask[t * ROWS + row] === 0) continue;
      const userId = userIds[row];
      if (userId === excludeUserId) continue;
      const current = best.get(userId);
      const imageId = imageIds[row];
      const distance = squared[row];
      if (!current || distance < current.squared || (distance === current.squared && imageId < current.imageId)) {
        best.set(userId, { squared: distance, imageId });
      }
    }
  }
  return [...best.entries()]
    .sort(([, a], [, b]) => a.squared - b.squared || a.imageId - b.imageId)
    .slice(0, k)
    .map(([userId, { squared: distance, imageId }]) => ({ user_id: userId, image_id: imageId, squared: distance }));
}
