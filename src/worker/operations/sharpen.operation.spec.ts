import { context, decode, fixture, openFixture, type Pixels } from '../../../test/fixtures/fixtures';
import { operationCatalog } from '../../pipelines/operation-catalog';
import { operation } from './sharpen.operation';

/** Mean absolute difference between horizontal neighbours: rises as an image sharpens. */
function roughness({ data, channels }: Pixels): number {
  let total = 0;
  for (let i = channels; i < data.length; i++) total += Math.abs(data[i] - data[i - channels]);
  return total / data.length;
}

describe('sharpen', () => {
  it.each([{}, { sigma: 2 }])('adds contrast to edges with %j', async (params) => {
    const original = roughness(await decode(fixture('coffee.png')));
    const out = await operation.run(openFixture('coffee.png'), params, context);
    expect(out).toMatchObject({ format: 'png', width: 300, height: 200 });
    expect(roughness(await decode(out.data))).toBeGreaterThan(original);
  });

  it('takes an optional sigma', () => {
    expect(operationCatalog.validateParams('sharpen', undefined).errors).toEqual([]);
    expect(operationCatalog.validateParams('sharpen', { sigma: 0.5 }).errors).toEqual([]);
  });

  it.each([{ sigma: 0 }, { sigma: 11 }, { sigma: 'crisp' }])('rejects %j', (raw) => {
    const { errors } = operationCatalog.validateParams('sharpen', raw);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every(({ field }) => field === 'params.sharpen.sigma')).toBe(true);
  });
});
