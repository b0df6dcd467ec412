import type { Sharp } from 'sharp';
import type { OperationOutput, OutputFormat } from '../../pipelines/operation-output';
import type { OperationContext } from './operation';

/** `quality` applies to the lossy formats; PNG's cost is set by the context's compression level instead. */
export async function encode(image: Sharp, format: OutputFormat, context: OperationContext, quality?: number): Promise<OperationOutput> {
  const encoder = format === 'png' ? image.png({ compressionLevel: context.pngCompression }) : image.toFormat(format, { quality });
  const { data, info } = await encoder.toBuffer({ resolveWithObject: true });
  return { data, format, width: info.width, height: info.height };
}

export function encodePng(image: Sharp, context: OperationContext): Promise<OperationOutput> {
  return encode(image, 'png', context);
}
