import sharp from 'sharp';
import type { ImageFacts } from '../pipelines/operation-output';
import { factsOf } from './placeholder';

/**
 * Decodes an original whole, as a job's first step would, and answers the decoder's reason when
 * it cannot (null when it can). The statistics pass reads every pixel without keeping them.
 */
export async function decodeFailure(data: Buffer, maxPixels: number): Promise<string | null> {
  try {
    await sharp(data, { limitInputPixels: maxPixels, failOn: 'error' }).stats();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * An original's one full decode, made to yield its facts: its size after EXIF orientation and its
 * placeholders, or the decoder's reason when it cannot be decoded. Every byte of the file is
 * decoded (a JPEG's at reduced scale, which still reads each block), so it finds what
 * `decodeFailure` finds.
 */
export async function decodeFacts(data: Buffer, maxPixels: number): Promise<{ facts: ImageFacts } | { failure: string }> {
  try {
    const image = sharp(data, { limitInputPixels: maxPixels, failOn: 'error' }).rotate();
    const { autoOrient } = await image.metadata();
    return { facts: await factsOf(image, autoOrient.width, autoOrient.height) };
  } catch (error) {
    return { failure: (error as Error).message };
  }
}
