import { context, decode, fixture, openFixture } from '../../../test/fixtures/fixtures';
import { operationCatalog } from '../../pipelines/operation-catalog';
import { operation } from './rotate.operation';

describe('rotate', () => {
  it('turns a quarter clockwise, moving each pixel with it', async () => {
    const out = await operation.run(openFixture('coffee.png'), { angle: 90 }, context);
    const [before, after] = await Promise.all([decode(fixture('coffee.png')), decode(out.data)]);
    expect(out).toMatchObject({ format: 'png', width: 200, height: 300 });
    expect(after.channels).toBe(3);
    for (const [x, y] of [
      [0, 0],
      [299, 0],
      [10, 150],
      [250, 199],
    ]) {
      // (x, y) of a w×h image lands on (h - 1 - y, x).
      const from = (y * 300 + x) * 3;
      const to = (x * 200 + (199 - y)) * 3;
      expect([...after.data.subarray(to, to + 3)]).toEqual([...before.data.subarray(from, from + 3)]);
    }
  });

  it('leaves the corners transparent at other angles', async () => {
    const out = await operation.run(openFixture('coffee.png'), { angle: 30 }, context);
    const after = await decode(out.data);
    expect(out.width).toBeGreaterThan(300);
    expect(out.height).toBeGreaterThan(200);
    expect(after.channels).toBe(4);
    expect([...after.data.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    const centre = (Math.floor(after.height / 2) * after.width + Math.floor(after.width / 2)) * 4;
    expect(after.data[centre + 3]).toBe(255);
  });

  it.each([{}, { angle: 361 }, { angle: -400 }, { angle: '90' }])('rejects %j', (raw) => {
    const { errors } = operationCatalog.validateParams('rotate', raw);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every(({ field }) => field === 'params.rotate.angle')).toBe(true);
  });

  it('accepts fractional angles in range', () => {
    expect(operationCatalog.validateParams('rotate', { angle: -12.5 }).errors).toEqual([]);
  });
});
