import sharp from 'sharp';
import { context, decode, fixture, openFixture, openImage, rgbPixels } from '../../../test/fixtures/fixtures';
import { operation } from './grayscale.operation';

/** The reference: round(255 * skimage.color.rgb2gray(img)), in JS on the stored RGB values. */
async function skimageGrey(bytes: Buffer): Promise<Uint8Array> {
  const { data, width, height } = await rgbPixels(bytes);
  const grey = new Uint8Array(width * height);
  for (let i = 0, p = 0; i < grey.length; i++, p += 3) {
    grey[i] = Math.round(0.2125 * data[p] + 0.7154 * data[p + 1] + 0.0721 * data[p + 2]);
  }
  return grey;
}

function largestDifference(a: Uint8Array, b: Uint8Array): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i] - b[i]));
  return largest;
}

describe('grayscale', () => {
  it.each(['astronaut.png', 'coffee.png', 'astronaut.jpg'])('keeps every pixel of %s within one grey level of rgb2gray', async (name) => {
    const bytes = fixture(name);
    const out = await operation.run(openImage(bytes), {}, context);
    const pixels = await decode(out.data);
    const { width, height } = await sharp(bytes).metadata();

    expect(out).toMatchObject({ format: 'png', width, height });
    expect(pixels.channels).toBe(1);
    expect(largestDifference(pixels.data, await skimageGrey(bytes))).toBeLessThanOrEqual(1);
  });

  it('agrees with scikit-image on the whole of astronaut.png', async () => {
    // sum(round(255 * rgb2gray(io.imread('astronaut.png')))) with scikit-image 0.19.3.
    const skimageSum = 7386077;
    const out = await operation.run(openFixture('astronaut.png'), {}, context);
    const { data } = await decode(out.data);
    const sum = data.reduce((total, level) => total + level, 0);
    // numpy rounds halves to even, so the odd pixel may differ by one.
    expect(Math.abs(sum - skimageSum)).toBeLessThanOrEqual(data.length / 1000);
  });

  it('passes a single-channel image through unchanged', async () => {
    const out = await operation.run(openFixture('camera.png'), {}, context);
    const camera = await decode(fixture('camera.png'));
    const pixels = await decode(out.data);
    expect(pixels.channels).toBe(1);
    expect(pixels.data.equals(camera.data)).toBe(true);
  });

  it('passes a grey image with alpha through without its alpha', async () => {
    const translucent = await sharp(fixture('camera.png')).ensureAlpha(0.3).toColourspace('b-w').png().toBuffer();
    expect(await sharp(translucent).metadata()).toMatchObject({ channels: 2 });
    const out = await operation.run(openImage(translucent), {}, context);
    const pixels = await decode(out.data);
    expect(pixels.channels).toBe(1);
    expect(pixels.data.equals((await decode(fixture('camera.png'))).data)).toBe(true);
  });

  it('ignores alpha', async () => {
    const translucent = await sharp(fixture('astronaut.png')).ensureAlpha(0.3).png().toBuffer();
    const out = await operation.run(openImage(translucent), {}, context);
    const opaque = await operation.run(openFixture('astronaut.png'), {}, context);
    const pixels = await decode(out.data);
    expect(pixels.channels).toBe(1);
    expect(pixels.data.equals((await decode(opaque.data)).data)).toBe(true);
  });

  it('reads 16-bit images as their 8-bit values', async () => {
    const deep = await sharp(fixture('astronaut.png')).toColourspace('rgb16').png().toBuffer();
    const out = await operation.run(openImage(deep), {}, context);
    const pixels = await decode(out.data);
    expect(pixels.channels).toBe(1);
    expect(largestDifference(pixels.data, await skimageGrey(fixture('astronaut.png')))).toBeLessThanOrEqual(1);
  });

  it('works on the upright image and writes no EXIF', async () => {
    const out = await operation.run(openFixture('astronaut-orientation-6.jpg'), {}, context);
    const metadata = await sharp(out.data).metadata();
    expect(out).toMatchObject({ width: 160, height: 256 });
    expect(metadata).toMatchObject({ width: 160, height: 256, channels: 1 });
    expect(metadata.exif).toBeUndefined();
    expect(metadata.orientation).toBeUndefined();
  });
});
