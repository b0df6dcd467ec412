import { context, decode, fixture, openFixture, type Pixels } from '../../../test/fixtures/fixtures';
import { operationCatalog } from '../../pipelines/operation-catalog';
import { operation } from './blur.operation';

/** Mean absolute difference between horizontal neighbours: falls as an image blurs. */
function roughness({ data, channels }: Pixels): number {
  let total = 0;
  for (let i = channels; i < data.length; i++) total += Math.abs(data[i] - data[i - channels]);
  return total / data.length;
}

describe('blur', () => {
  it('smooths, the more the larger sigma', async () => {
    const original = roughness(await decode(fixture('coffee.png')));
    const slight = await operation.run(openFixture('coffee.png'), { sigma: 1 }, context);
    const strong = await operation.run(openFixture('coffee.png'), { sigma: 8 }, context);
    expect(slight).toMatchObject({ format: 'png', width: 300, height: 200 });
    expect(roughness(await decode(slight.data))).toBeLessThan(original);
    expect(roughness(await decode(strong.data))).toBeLessThan(roughness(await decode(slight.data)));
  });

  it('defaults sigma to 2', async () => {
    expect(operationCatalog.validateParams('blur', undefined).errors).toEqual([]);
    const byDefault = await operation.run(openFixture('coffee.png'), {}, context);
    const explicit = await operation.run(openFixture('coffee.png'), { sigma: 2 }, context);
    expect(byDefault.data.equals(explicit.data)).toBe(true);
  });

  it.each([{ sigma: 0.2 }, { sigma: 1001 }, { sigma: 'soft' }])('rejects %j', (raw) => {
    const { errors } = operationCatalog.validateParams('blur', raw);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every(({ field }) => field === 'params.blur.sigma')).toBe(true);
  });
});
