import sharp from 'sharp';
import { countGreyLevels, readGreyLevels, weighRgb } from './grey-levels';

describe('weighRgb', () => {
  it('is round(0.2125 R + 0.7154 G + 0.0721 B), halves up, for every 8-bit colour', () => {
    const rgb = new Uint8Array(256 * 256 * 3);
    for (let i = 0; i < 256 * 256; i++) {
      rgb[i * 3] = i >> 8;
      rgb[i * 3 + 1] = i & 255;
    }
    let wrong = 0;
    for (let blue = 0; blue < 256; blue++) {
      for (let i = 0; i < 256 * 256; i++) rgb[i * 3 + 2] = blue;
      const grey = weighRgb(rgb, 256 * 256);
      for (let i = 0; i < grey.length; i++) {
        const expected = Math.floor((2125 * rgb[i * 3] + 7154 * rgb[i * 3 + 1] + 721 * rgb[i * 3 + 2] + 5000) / 10_000);
        if (grey[i] !== expected) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });
});

describe('readGreyLevels', () => {
  it('weighs the decoded pixels of an RGB image and drops alpha', async () => {
    const pixels = Buffer.from([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 255]);
    const levels = await readGreyLevels(sharp(pixels, { raw: { width: 2, height: 2, channels: 4 } }));
    expect(levels).toMatchObject({ width: 2, height: 2 });
    expect(Array.from(levels.data)).toEqual([54, 182, 18, 19]);
    expect(countGreyLevels(levels.data)[18]).toBe(1);
  });
});
