/*
 * The arithmetic of query and search jobs over `count` histograms of 256 bins, row after row in
 * `rows`. These functions also run in a worker thread built from their source text
 * (reducer-thread.ts), so each must stand alone: no imports, no reference outside itself.
 */

/** The element-wise median as numpy defines it: the mean of the two middle values for an even count. */
export function medianOfBins(rows: Int32Array, count: number): number[] {
  const column = new Float64Array(count);
  // Hoare's selection: puts the k-th smallest at k, smaller before it, in linear expected time.
  const select = (values: Float64Array, k: number): number => {
    let low = 0;
    let high = values.length - 1;
    while (low < high) {
      const pivot = values[(low + high) >> 1];
      let i = low;
      let j = high;
      while (i <= j) {
        while (values[i] < pivot) i++;
        while (values[j] > pivot) j--;
        if (i <= j) {
          const swap = values[i];
          values[i] = values[j];
          values[j] = swap;
          i++;
          j--;
        }
      }
      if (k <= j) high = j;
      else if (k >= i) low = i;
      else return values[k];
    }
    return values[k];
  };
  const median: number[] = [];
  for (let bin = 0; bin < 256; bin++) {
    for (let i = 0; i < count; i++) column[i] = rows[i * 256 + bin];
    const upper = select(column, count >> 1);
    if (count % 2 === 1) {
      median.push(upper);
    } else {
      // The lower middle is the largest value left of the upper one after selection.
      let lower = -Infinity;
      for (let i = 0; i < count >> 1; i++) if (column[i] > lower) lower = column[i];
      median.push((lower + upper) / 2);
    }
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
