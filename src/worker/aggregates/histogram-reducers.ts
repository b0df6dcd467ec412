/*
 * The arithmetic of query and search jobs over `count` histograms of 256 bins, row after row in
 * `rows`. These functions also run in a worker thread built from their source text
 * (reducer-thread.ts), so each must stand alone: no imports, no reference outside itself.
 */

/** The element-wise median as numpy defines it: the mean of the two middle values for an even count. */
export function medianOfBins(rows: Int32Array, count: number): number[] {
  const buckets = new Int32Array(1 << 16);
  // The median of `values`, exactly, in two linear passes: count the values by their top 16 bits
  // above the minimum, find the buckets holding the middle rank(s), then sort those buckets alone.
  const middle = (values: Int32Array): number => {
    const n = values.length;
    let min = values[0];
    let max = values[0];
    for (let i = 1; i < n; i++) {
      const value = values[i];
      if (value < min) min = value;
      else if (value > max) max = value;
    }
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
  // gathered 16 bins (a cache line) at a time, in tiles of rows small enough to stay in cache.
  const GROUP = 16;
  const TILE = 512;
  const block = new Int32Array(GROUP * count);
  const median: number[] = [];
  for (let first = 0; first < 256; first += GROUP) {
    for (let start = 0; start < count; start += TILE) {
      const end = Math.min(count, start + TILE);
      for (let g = 0; g < GROUP; g++) {
        const base = g * count;
        const bin = first + g;
        for (let i = start; i < end; i++) block[base + i] = rows[i * 256 + bin];
      }
    }
    for (let g = 0; g < GROUP; g++) median.push(middle(block.subarray(g * count, (g + 1) * count)));
  }
  return median;
}

export function meanOfBins(rows: Int32Array, count: number): number[] {
  const sums = new Float64Array(256);
  for (let i = 0; i < count; i++) for (let bin = 0; bin < 256; bin++) sums[bin] += rows[i * 256 + bin];
  return Array.from(sums, (sum) => sum / count);
}

/**
 * The `k` users, other than `excludeUserId`, whose histograms are nearest `target`: Euclidean
 * distance between histograms normalised to sum 1, each user at the distance of their closest
 * histogram, ties broken by the smaller image id.
 */
export function nearestUsers(
  rows: Int32Array,
  userIds: Int32Array,
  imageIds: Int32Array,
  count: number,
  target: number[],
  excludeUserId: number,
  k: number,
): { user_id: number; image_id: number; distance: number }[] {
  const targetSum = target.reduce((sum, value) => sum + value, 0) || 1;
  const normalisedTarget = Float64Array.from(target, (value) => value / targetSum);
  const best = new Map<number, { squared: number; imageId: number }>();
  for (let i = 0; i < count; i++) {
    const userId = userIds[i];
    if (userId === excludeUserId) continue;
    const offset = i * 256;
    let sum = 0;
    for (let bin = 0; bin < 256; bin++) sum += rows[offset + bin];
    const scale = sum === 0 ? 0 : 1 / sum;
    let squared = 0;
    for (let bin = 0; bin < 256; bin++) {
      const difference = rows[offset + bin] * scale - normalisedTarget[bin];
      squared += difference * difference;
    }
    const current = best.get(userId);
    const imageId = imageIds[i];
    if (!current || squared < current.squared || (squared === current.squared && imageId < current.imageId)) {
      best.set(userId, { squared, imageId });
    }
  }
  return [...best.entries()]
    .sort(([, a], [, b]) => a.squared - b.squared || a.imageId - b.imageId)
    .slice(0, k)
    .map(([userId, { squared, imageId }]) => ({ user_id: userId, image_id: imageId, distance: Math.sqrt(squared) }));
}
