import sharp from 'sharp';
import { context, decode, openFixture, openImage } from '../../../test/fixtures/fixtures';
import { operation } from './edges.operation';

describe('edges', () => {
  it('matches scikit-image on the camera', async () => {
    const out = await operation.run(openFixture('camera.png'), {}, context);
    const edges = await decode(out.data);
    expect(out).toMatchObject({ format: 'png', width: 512, height: 512 });
    expect(edges.channels).toBe(1);

    // e = np.round(exposure.rescale_intensity(filters.sobel(io.imread('camera.png')), out_range=(0, 255)))
    // with scikit-image 0.19.3: e.sum() and e[y, x] at a few edges, the strongest and the borders.
    const at = (x: number, y: number) => edges.data[y * 512 + x];
    const expected: [x: number, y: number, level: number][] = [
      [243, 172, 87],
      [262, 448, 70],
      [242, 141, 77],
      [254, 186, 89],
      [54, 173, 210],
      [189, 200, 255],
      [0, 0, 0],
      [300, 0, 0],
      [300, 511, 9],
      [0, 300, 2],
    ];
    for (const [x, y, level] of expected) expect(Math.abs(at(x, y) - level)).toBeLessThanOrEqual(1);
    const sum = edges.data.reduce((total, level) => total + level, 0);
    expect(Math.abs(sum - 3549155)).toBeLessThanOrEqual(edges.data.length / 1000);
  });

  it('finds no edges in a flat image', async () => {
    const flat = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const out = await operation.run(openImage(flat), {}, context);
    const edges = await decode(out.data);
    expect(edges.data.every((level) => level === 0)).toBe(true);
  });
});
