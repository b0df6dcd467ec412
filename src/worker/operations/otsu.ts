/**
 * Otsu's threshold of a 256-bin grey-level histogram, as scikit-image's `threshold_otsu` computes it
 * for 8-bit images: the level `t` maximising the between-class variance of `<= t` against `> t`,
 * the first such level on ties, and the only level present when there is one.
 */
export function otsuThreshold(histogram: readonly number[]): number {
  let total = 0;
  let weightedTotal = 0;
  for (let level = 0; level < histogram.length; level++) {
    total += histogram[level];
    weightedTotal += level * histogram[level];
  }

  let best = -1;
  let bestVariance = -1;
  let below = 0;
  let weightedBelow = 0;
  for (let level = 0; level < histogram.length - 1; level++) {
    below += histogram[level];
    weightedBelow += level * histogram[level];
    const above = total - below;
    // scikit-image's histogram spans only the levels present, so splits with an empty side never compete.
    if (below === 0 || above === 0) continue;
    const meanGap = weightedBelow / below - (weightedTotal - weightedBelow) / above;
    const variance = below * above * meanGap * meanGap;
    if (variance > bestVariance) {
      best = level;
      bestVariance = variance;
    }
  }
  return best >= 0 ? best : histogram.findIndex((count) => count > 0);
}
