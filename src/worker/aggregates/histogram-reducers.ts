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
    for (let bin = 0; bin < BINS; bin++) {
      const base = bin * ROWS;
      const wanted = normalisedTarget[bin];
      for (let row = 0; row < rows; row++) {
        const difference = values[base + row] * scale[row] - wanted;
        squared[row] += difference * difference;
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
