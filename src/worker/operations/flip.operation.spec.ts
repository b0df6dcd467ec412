import { context, decode, fixture, openImage, rgbPixels } from '../../../test/fixtures/fixtures';
import { operation } from './flip.operation';

describe('flip', () => {
  it.each(['coffee.png', 'astronaut-orientation-6.jpg'])('mirrors %s top to bottom, upright', async (name) => {
    const out = await operation.run(openImage(fixture(name)), {}, context);
    const [before, after] = await Promise.all([rgbPixels(fixture(name)), decode(out.data)]);
    const { width, height } = before;
    expect(out).toMatchObject({ format: 'png', width, height });
    for (const [x, y] of [
      [0, 0],
      [17, 3],
      [width - 1, height - 1],
      [150, 120],
    ]) {
      const from = (y * width + x) * 3;
      const to = ((height - 1 - y) * width + x) * 3;
      expect([...after.data.subarray(to, to + 3)]).toEqual([...before.data.subarray(from, from + 3)]);
    }
  });
});
