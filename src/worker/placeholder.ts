import { encode as encodeBlurhash } from 'blurhash';
import type { Sharp } from 'sharp';
import type { ImageFacts } from '../pipelines/operation-output';

/**
 * The side of the raw image a placeholder is computed from: BlurHash keeps only a few cosine
 * components, which 32×32 pixels already determine, and its encoder's cost grows with the pixels.
 */
export const PLACEHOLDER_SIDE = 32;

/**
 * Dominant colour bins: 4 levels a channel, 64 colours. With 1,024 pixels, finer bins (sharp's
 * `stats().dominant` has 4,096) hold a few dozen each and the winner turns on noise; these pick
 * the bin the full-size photo's 64 bins pick, on the test photographs.
 */
const LEVELS_PER_CHANNEL = 4;

/**
 * An image's facts from a pipeline that is about to decode it anyway: libvips reduces the pixels to
 * 32×32 as they are decoded (off the event loop), and only that tiny buffer reaches JavaScript.
 * `image` must already be oriented; `width` and `height` are its full, oriented size.
 */
export async function factsOf(image: Sharp, width: number, height: number): Promise<ImageFacts> {
  const { data } = await image
    .resize(PLACEHOLDER_SIDE, PLACEHOLDER_SIDE, { fit: 'fill' })
    // Transparent pixels are shown over white: their colour values are whatever the encoder left.
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width, height, ...placeholderOfRgba(data, PLACEHOLDER_SIDE, PLACEHOLDER_SIDE, width >= height) };
}

/**
 * The BlurHash and dominant colour of `rgba` pixels (4 bytes each, alpha ignored). Four
 * components along the long side and three along the short one, the BlurHash authors' advice.
 */
export function placeholderOfRgba(
  rgba: Uint8Array,
  width: number,
  height: number,
  landscape: boolean,
): { blurhash: string; dominantColor: string } {
  const pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, width * height * 4);
  const blurhash = landscape ? encodeBlurhash(pixels, width, height, 4, 3) : encodeBlurhash(pixels, width, height, 3, 4);
  return { blurhash, dominantColor: dominantColorOf(pixels) };
}

/**
 * The mean colour of the most populated of 4×4×4 colour bins: the colour a viewer names for the
 * picture, where the plain mean of a photo of two colours would be neither. Computed from the
 * 32×32 pixels the BlurHash is, rather than by sharp's `stats().dominant`, which would need a
 * pass of its own over the full-size pixels.
 */
export function dominantColorOf(rgba: Uint8ClampedArray): string {
  const shift = 8 - Math.log2(LEVELS_PER_CHANNEL);
  const counts = new Uint32Array(LEVELS_PER_CHANNEL ** 3);
  const sums = new Float64Array(counts.length * 3);
  let best = 0;
  for (let p = 0; p < rgba.length; p += 4) {
    const bin = ((rgba[p] >> shift) * LEVELS_PER_CHANNEL + (rgba[p + 1] >> shift)) * LEVELS_PER_CHANNEL + (rgba[p + 2] >> shift);
    counts[bin]++;
    sums[bin * 3] += rgba[p];
    sums[bin * 3 + 1] += rgba[p + 1];
    sums[bin * 3 + 2] += rgba[p + 2];
    // Ties go to the bin reached first, so the answer does not depend on the scan's end.
    if (counts[bin] > counts[best]) best = bin;
  }
  if (counts[best] === 0) return '#000000';
  const channel = (offset: number) =>
    Math.round(sums[best * 3 + offset] / counts[best])
      .toString(16)
      .padStart(2, '0');
  return `#${channel(0)}${channel(1)}${channel(2)}`;
}
