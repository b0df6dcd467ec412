import sharp, { type Sharp } from 'sharp';
import { encodePng } from './encode';
import type { OperationContext, OperationOutput } from './operation';

/** One 8-bit channel, row by row: what the grey-level operations compute on in JS. */
export interface GreyLevels {
  data: Uint8Array;
  width: number;
  height: number;
}

/** scikit-image's rgb2gray weights, applied to the stored sRGB values as it does (no linearisation). */
export const RGB2GRAY_WEIGHTS: [number, number, number] = [0.2125, 0.7154, 0.0721];

/**
 * The input as one 8-bit grey channel, `round(0.2125 R + 0.7154 G + 0.0721 B)`, computed by libvips;
 * single-channel images pass through and alpha is dropped.
 */
export async function toGrayscale(input: Sharp): Promise<Sharp> {
  const { channels = 3, hasAlpha } = await input.metadata();
  const opaque = input.removeAlpha();
  if (channels - (hasAlpha ? 1 : 0) === 1) return opaque.extractChannel(0);
  // libvips truncates when casting back to 8 bits; the weights sum to 1, so adding a half first rounds.
  return opaque
    .linear(1, 0.5)
    .recomb([RGB2GRAY_WEIGHTS, RGB2GRAY_WEIGHTS, RGB2GRAY_WEIGHTS])
    .extractChannel(0);
}

export async function readGreyLevels(input: Sharp): Promise<GreyLevels> {
  const grey = await toGrayscale(input);
  const { data, info } = await grey.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export function encodeGreyLevels({ data, width, height }: GreyLevels, context: OperationContext): Promise<OperationOutput> {
  // Raw single-channel input would otherwise be written as sRGB, tripling the channels.
  const image = sharp(data, { raw: { width, height, channels: 1 } }).toColourspace('b-w');
  return encodePng(image, context);
}

/** The 256-bin histogram of 8-bit grey levels. */
export function countGreyLevels(levels: Uint8Array): number[] {
  const bins = new Uint32Array(256);
  for (let i = 0; i < levels.length; i++) bins[levels[i]]++;
  return Array.from(bins);
}
