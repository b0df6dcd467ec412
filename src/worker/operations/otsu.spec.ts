import { otsuThreshold } from './otsu';

/** Counts per grey level from peaks: `at` ± (width - 1), height × (width - distance) pixels. */
function triangles(...peaks: { at: number; width: number; height: number }[]): number[] {
  return Array.from({ length: 256 }, (_, level) =>
    peaks.reduce((count, { at, width, height }) => count + Math.max(0, width - Math.abs(level - at)) * height, 0),
  );
}

function levels(counts: Record<number, number>): number[] {
  return Array.from({ length: 256 }, (_, level) => counts[level] ?? 0);
}

// The expected levels come from scikit-image 0.19.3: threshold_otsu(np.repeat(np.arange(256), counts).astype(np.uint8)).
describe('otsuThreshold', () => {
  it('splits two triangular modes where scikit-image does', () => {
    const counts = triangles({ at: 60, width: 40, height: 3 }, { at: 180, width: 30, height: 2 });
    expect(otsuThreshold(counts)).toBe(99);
  });

  it('splits unequal modes where scikit-image does', () => {
    const counts = triangles({ at: 30, width: 20, height: 5 }, { at: 150, width: 50, height: 1 });
    expect(otsuThreshold(counts)).toBe(49);
  });

  it('takes the lowest of equally good levels, so only the upper mode ends up above it', () => {
    expect(otsuThreshold(levels({ 50: 100, 200: 300 }))).toBe(50);
  });

  it('returns the only level present', () => {
    expect(otsuThreshold(levels({ 77: 10 }))).toBe(77);
  });
});
