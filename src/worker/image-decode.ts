import sharp from 'sharp';

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
