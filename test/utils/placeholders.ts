import { decode } from 'blurhash';
import sharp from 'sharp';

/*
 * References for the placeholders, computed apart from the worker's code: the `blurhash`
 * package's own decode of a hash, compared with the photo as sharp downscales it, and the
 * dominant colour of the photo at full size.
 */

const SIDE = 32;

/**
 * Tolerances, in 8-bit sRGB levels, measured on the fixture photographs: a photo against its own
 * hash is within 1.3 (mean) and 10.2 (quadrants); against another fixture's hash, 10.7 and 27.6
 * at least.
 */
export const MEAN_TOLERANCE = 3;
export const QUADRANT_TOLERANCE = 15;
/** A dominant colour's channels against the full-size reference's. */
export const DOMINANT_TOLERANCE = 12;

const toLinear = (level: number) => {
  const v = level / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
};
const toLevel = (linear: number) => Math.round(255 * (linear <= 0.0031308 ? linear * 12.92 : 1.055 * linear ** (1 / 2.4) - 0.055));

/** The mean colour of each of `grid`×`grid` blocks of 32×32 RGBA pixels, averaged in linear light as BlurHash does. */
function blockMeans(rgba: Uint8Array | Uint8ClampedArray, grid: number): number[] {
  const side = SIDE / grid;
  const means: number[] = [];
  for (let by = 0; by < grid; by++)
    for (let bx = 0; bx < grid; bx++)
      for (let channel = 0; channel < 3; channel++) {
        let sum = 0;
        for (let y = by * side; y < (by + 1) * side; y++)
          for (let x = bx * side; x < (bx + 1) * side; x++) sum += toLinear(rgba[(y * SIDE + x) * 4 + channel]);
        means.push(toLevel(sum / (side * side)));
      }
  return means;
}

const meanDifference = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + Math.abs(value - b[index]), 0) / a.length;

/**
 * How far the decode of `blurhash` is from `photo` downscaled to 32×32 (oriented by its EXIF tag):
 * the difference of their mean colours, and of their four quadrants' mean colours, per channel.
 */
export async function placeholderDistance(photo: Buffer, blurhash: string): Promise<{ mean: number; quadrants: number }> {
  const { data } = await sharp(photo)
    .rotate()
    .resize(SIDE, SIDE, { fit: 'fill' })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const decoded = decode(blurhash, SIDE, SIDE);
  return {
    mean: meanDifference(blockMeans(decoded, 1), blockMeans(data, 1)),
    quadrants: meanDifference(blockMeans(decoded, 2), blockMeans(data, 2)),
  };
}

/** The photo's commonest colour at full size, as the mean of the most populated of 4×4×4 bins. */
export async function dominantReference(photo: Buffer): Promise<number[]> {
  const { data, info } = await sharp(photo).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const bins = new Map<number, { count: number; sums: number[] }>();
  for (let p = 0; p < data.length; p += info.channels) {
    const key = ((data[p] >> 6) << 4) | ((data[p + 1] >> 6) << 2) | (data[p + 2] >> 6);
    const bin = bins.get(key) ?? { count: 0, sums: [0, 0, 0] };
    bin.count++;
    for (let channel = 0; channel < 3; channel++) bin.sums[channel] += data[p + channel];
    bins.set(key, bin);
  }
  const top = [...bins.values()].reduce((best, bin) => (bin.count > best.count ? bin : best));
  return top.sums.map((sum) => sum / top.count);
}

/** `#rrggbb` as its three levels. */
export function levelsOf(hex: string): number[] {
  return [1, 3, 5].map((start) => parseInt(hex.slice(start, start + 2), 16));
}

/** The largest difference between two colours' channels. */
export function colourDistance(a: number[], b: number[]): number {
  return Math.max(...a.map((value, index) => Math.abs(value - b[index])));
}
