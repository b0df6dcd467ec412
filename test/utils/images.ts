import sharp from 'sharp';

/** scikit-image's rgb2gray on stored values, scaled to 0–255 and rounded, pixel by pixel. */
export async function rgb2grayReference(photo: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(photo).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const grey = Buffer.alloc(info.width * info.height);
  for (let i = 0, p = 0; p < grey.length; p++, i += info.channels) {
    grey[p] = Math.round(0.2125 * data[i] + 0.7154 * data[i + 1] + 0.0721 * data[i + 2]);
  }
  return { data: grey, width: info.width, height: info.height };
}

export async function maxDifference(a: Buffer, b: Buffer): Promise<number> {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function binary(
  response: { on(event: string, listener: (...args: any[]) => void): unknown },
  callback: (error: Error | null, body: Buffer) => void,
) {
  const chunks: Buffer[] = [];
  response.on('data', (chunk: Buffer) => chunks.push(chunk));
  response.on('end', () => callback(null, Buffer.concat(chunks)));
}
