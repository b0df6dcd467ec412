import { context, decode, fixture, openFixture } from '../../../test/fixtures/fixtures';
import { operation } from './equalize.operation';

describe('equalize', () => {
  it('matches scikit-image on the camera', async () => {
    const out = await operation.run(openFixture('camera.png'), {}, context);
    const equalized = await decode(out.data);
    expect(out).toMatchObject({ format: 'png', width: 512, height: 512 });
    expect(equalized.channels).toBe(1);

    // e = np.round(255 * exposure.equalize_hist(io.imread('camera.png'))) with scikit-image 0.19.3:
    // e[y, x] at a few places, and e.sum().
    const at = (x: number, y: number) => equalized.data[y * 512 + x];
    const expected: [x: number, y: number, level: number][] = [
      [0, 0, 201],
      [511, 511, 121],
      [200, 100, 73],
      [256, 256, 15],
      [450, 400, 129],
    ];
    for (const [x, y, level] of expected) expect(Math.abs(at(x, y) - level)).toBeLessThanOrEqual(1);
    const sum = equalized.data.reduce((total, level) => total + level, 0);
    expect(Math.abs(sum - 33710516)).toBeLessThanOrEqual(equalized.data.length / 1000);
  });

  it('keeps the order of grey levels and reaches white', async () => {
    const out = await operation.run(openFixture('camera.png'), {}, context);
    const [before, after] = await Promise.all([decode(fixture('camera.png')), decode(out.data)]);
    const mapping = new Map<number, number>();
    before.data.forEach((level, i) => mapping.set(level, after.data[i]));
    const levels = [...mapping.keys()].sort((a, b) => a - b);
    for (let i = 1; i < levels.length; i++) expect(mapping.get(levels[i])!).toBeGreaterThanOrEqual(mapping.get(levels[i - 1])!);
    expect(mapping.get(levels[levels.length - 1])).toBe(255);
  });
});
