import { randomInt } from 'node:crypto';
import sharp from 'sharp';
import { fixture } from './factories';

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

/**
 * A fixture with one pixel of random colour, re-encoded (as PNG, or JPEG quality 90): a file of its
 * own, that no earlier job has processed, so that its steps are really computed rather than reused.
 */
export async function uniquePhoto(name = 'astronaut.jpg', as: 'png' | 'jpeg' = 'jpeg'): Promise<Buffer> {
  const pixel = await sharp({
    create: { width: 1, height: 1, channels: 3, background: { r: randomInt(256), g: randomInt(256), b: randomInt(256) } },
  })
    .png()
    .toBuffer();
  const marked = sharp(fixture(name)).composite([{ input: pixel, left: 0, top: 0 }]);
  return (as === 'png' ? marked.png() : marked.jpeg({ quality: 90 })).toBuffer();
}
