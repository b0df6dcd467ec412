import sharp, { type Sharp } from 'sharp';
import type { OperationOutput, OutputFormat } from '../../pipelines/operation-output';
import { factsOf } from '../placeholder';
import type { OperationContext } from './operation';

/**
 * `quality` applies to the lossy formats; PNG's cost is set by the context's compression level instead.
 * The placeholders come from `pixels` when the caller holds the output's pixels in memory, else
 * from the encoded bytes in memory, reduced as they are decoded (JPEG and WebP decode at a
 * fraction of their size): the step's pipeline itself cannot feed two outputs without being run twice.
 */
export async function encode(
  image: Sharp,
  format: OutputFormat,
  context: OperationContext,
  quality?: number,
  pixels?: Sharp,
): Promise<OperationOutput> {
  const encoder = format === 'png' ? image.png({ compressionLevel: context.pngCompression }) : image.toFormat(format, { quality });
  const { data, info } = await encoder.toBuffer({ resolveWithObject: true });
  return { data, format, ...(await factsOf(pixels ?? sharp(data), info.width, info.height)) };
}

export function encodePng(image: Sharp, context: OperationContext, pixels?: Sharp): Promise<OperationOutput> {
  return encode(image, 'png', context, undefined, pixels);
}
