import sharp from 'sharp';
import { context, decode, fixture, openFixture } from '../../../test/fixtures/fixtures';
import { operationCatalog } from '../../pipelines/operation-catalog';
import { operation } from './convert.operation';

describe('convert', () => {
  it.each([
    ['png', 'png'],
    ['jpeg', 'jpeg'],
    ['webp', 'webp'],
    ['avif', 'heif'],
  ] as const)('writes %s', async (format, container) => {
    const out = await operation.run(openFixture('coffee.png'), { format }, context);
    expect(out).toMatchObject({ format, width: 300, height: 200 });
    expect(await sharp(out.data).metadata()).toMatchObject({ format: container, width: 300, height: 200 });
  });

  it('keeps PNG lossless', async () => {
    const out = await operation.run(openFixture('coffee.png'), { format: 'png' }, context);
    const [before, after] = await Promise.all([decode(fixture('coffee.png')), decode(out.data)]);
    expect(after.data.equals(before.data)).toBe(true);
  });

  it('applies the quality to lossy formats', async () => {
    const rough = await operation.run(openFixture('coffee.png'), { format: 'jpeg', quality: 10 }, context);
    const fine = await operation.run(openFixture('coffee.png'), { format: 'jpeg', quality: 95 }, context);
    expect(rough.data.length).toBeLessThan(fine.data.length);
  });

  it('writes no EXIF', async () => {
    const out = await operation.run(openFixture('astronaut-orientation-6.jpg'), { format: 'jpeg' }, context);
    const metadata = await sharp(out.data).metadata();
    expect(metadata).toMatchObject({ width: 160, height: 256 });
    expect(metadata.exif).toBeUndefined();
  });

  it.each([
    [{}, 'params.convert.format'],
    [{ format: 'gif' }, 'params.convert.format'],
    [{ format: 'webp', quality: 0 }, 'params.convert.quality'],
    [{ format: 'webp', quality: 101 }, 'params.convert.quality'],
  ])('rejects %j', (raw, field) => {
    const { errors } = operationCatalog.validateParams('convert', raw);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((error) => error.field === field)).toBe(true);
  });
});
