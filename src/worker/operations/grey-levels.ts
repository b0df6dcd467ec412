import sharp, { type Sharp } from 'sharp';
import { encodePng } from './encode';
import type { GreyLevels, OperationOutput } from '../../pipelines/operation-output';
import type { OperationContext } from './operation';

/** scikit-image's rgb2gray weights, applied to the stored sRGB values as it does (no linearisation). */
export const RGB2GRAY_WEIGHTS: [number, number, number] = [0.2125, 0.7154, 0.0721];

/**
 * The input as one 8-bit grey channel, `round(0.2125 R + 0.7154 G + 0.0721 B)`; single-channel
 * images pass through and alpha is dropped. libvips decodes; the weighting is done here, because
 * libvips' `recomb` works in floating point on all three bands and costs three times the decode.
 */
export async function readGreyLevels(input: Sharp): Promise<GreyLevels> {
  const { channels = 3, hasAlpha } = await input.metadata();
  const opaque = input.removeAlpha();
  if (channels - (hasAlpha ? 1 : 0) === 1) {
    const { data, info } = await opaque.extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  }
  const { data, info } = await opaque.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`Expected RGB pixels, got ${info.channels} channels`);
  return { data: weighRgb(data, info.width * info.height), width: info.width, height: info.height };
}

/**
 * `round(0.2125 R + 0.7154 G + 0.0721 B)` exactly, halves up: the weights are whole ten-thousandths,
 * so the sum is computed in integers and only the division by 10,000 is done in floating point,
 * where the added half keeps an exact multiple from falling just below its integer. About twice
 * as fast as weighing in floating point, on the worker's main thread where this runs.
 */
export function weighRgb(rgb: Uint8Array, pixels: number): Uint8Array {
  const [red, green, blue] = RGB2GRAY_WEIGHTS.map((weight) => Math.round(weight * 10_000));
  const grey = new Uint8Array(pixels);
  for (let i = 0, p = 0; i < pixels; i++, p += 3) grey[i] = ((red * rgb[p] + green * rgb[p + 1] + blue * rgb[p + 2] + 5000.5) * 0.0001) | 0;
  return grey;
}

/** A single-channel PNG of the grey levels, which also carries them on for the next step to start from. */
export async function encodeGreyLevels(levels: GreyLevels, context: OperationContext): Promise<OperationOutput> {
  // Raw single-channel input would otherwise be written as sRGB, tripling the channels.
  const image = openGreyLevels(levels).toColourspace('b-w');
  return { ...(await encodePng(image, context, openGreyLevels(levels))), pixels: levels };
}

export function openGreyLevels({ data, width, height }: GreyLevels): Sharp {
  return sharp(data, { raw: { width, height, channels: 1 } });
}

/** The 256-bin histogram of 8-bit grey levels. */
export function countGreyLevels(levels: Uint8Array): number[] {
  // Four sets of bins, so that runs of equal levels do not wait on each other's increments.
  const bins = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)];
  const [first, second, third, fourth] = bins;
  const whole = levels.length - (levels.length % 4);
  for (let i = 0; i < whole; i += 4) {
    first[levels[i]]++;
    second[levels[i + 1]]++;
    third[levels[i + 2]]++;
    fourth[levels[i + 3]]++;
  }
  for (let i = whole; i < levels.length; i++) first[levels[i]]++;
  return Array.from(first, (count, level) => count + second[level] + third[level] + fourth[level]);
}
