import sharp from 'sharp';
import { context, openFixture } from '../../../test/fixtures/fixtures';
import { operationCatalog } from '../../pipelines/operation-catalog';
import { ResizeParams } from '../../pipelines/operation-params';
import { operation } from './resize.operation';

function params(raw: object): ResizeParams {
  const { params, errors } = operationCatalog.validateParams('resize', raw);
  expect(errors).toEqual([]);
  return params as ResizeParams;
}

describe('resize', () => {
  it.each([
    [{ width: 150 }, 150, 100],
    [{ height: 50 }, 75, 50],
    [{ width: 100, height: 100 }, 100, 67],
    [{ width: 100, height: 100, fit: 'inside' }, 100, 67],
    [{ width: 100, height: 100, fit: 'outside' }, 150, 100],
    [{ width: 100, height: 100, fit: 'cover' }, 100, 100],
    [{ width: 100, height: 100, fit: 'contain' }, 100, 100],
    [{ width: 90, height: 40, fit: 'fill' }, 90, 40],
    [{ width: 600 }, 600, 400],
  ])('resizes the 300×200 coffee with %j to %i×%i', async (raw, width, height) => {
    const out = await operation.run(openFixture('coffee.png'), params(raw), context);
    expect(out).toMatchObject({ format: 'png', width, height });
    expect(await sharp(out.data).metadata()).toMatchObject({ format: 'png', width, height });
  });

  it.each([
    [{}, 'resize needs a width, a height or both'],
    [{ height: 100, width: 0 }, 'width must be an integer from 1 to 10000'],
    [{ width: 10_001 }, 'width must be an integer from 1 to 10000'],
    [{ width: 1.5 }, 'width must be an integer from 1 to 10000'],
    [{ width: '100' }, 'width must be an integer from 1 to 10000'],
    [{ width: null }, 'width must be an integer from 1 to 10000'],
    [{ width: 100, height: -1 }, 'height must be an integer from 1 to 10000'],
  ])('rejects %j with one message', (raw, message) => {
    const { errors } = operationCatalog.validateParams('resize', raw);
    expect(errors).toEqual([{ field: expect.stringMatching(/^params\.resize\.(width|height)$/), message }]);
  });

  it('fits inside when fit is left out of the stored parameters', async () => {
    const out = await operation.run(openFixture('coffee.png'), { width: 100, height: 100 }, context);
    expect(out).toMatchObject({ width: 100, height: 67 });
  });

  it('rejects an unknown fit', () => {
    const { errors } = operationCatalog.validateParams('resize', { width: 10, fit: 'stretch' });
    expect(errors).toEqual([{ field: 'params.resize.fit', message: expect.stringContaining('fit must be one of') }]);
  });
});
