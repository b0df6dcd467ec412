import { context, decode, fixture, openFixture } from '../../../test/fixtures/fixtures';
import { operationCatalog } from '../../pipelines/operation-catalog';
import { operation as grayscale } from './grayscale.operation';
import { countGreyLevels } from './grey-levels';
import { otsuThreshold } from './otsu';
import { operation } from './threshold.operation';

async function greyOf(name: string): Promise<Buffer> {
  return (await decode((await grayscale.run(openFixture(name), {}, context)).data)).data;
}

function countAbove(levels: Buffer, level: number): number {
  return levels.reduce((count, value) => count + (value > level ? 1 : 0), 0);
}

describe('threshold', () => {
  // threshold_otsu(io.imread('camera.png')), and for the colour ones of
  // np.round(255 * rgb2gray(io.imread(name))).astype(np.uint8), with scikit-image 0.19.3.
  it.each([
    ['camera.png', 102],
    ['astronaut.png', 99],
    ['coffee.png', 99],
  ])("finds %s's Otsu level where scikit-image does (%i)", async (name, skimageLevel) => {
    const grey = await greyOf(name);
    expect(otsuThreshold(countGreyLevels(grey))).toBe(skimageLevel);
  });

  it("whitens the pixels above Otsu's level and blackens the rest", async () => {
    const out = await operation.run(openFixture('camera.png'), {}, context);
    const binary = await decode(out.data);
    expect(out).toMatchObject({ format: 'png', width: 512, height: 512 });
    expect(binary.channels).toBe(1);
    expect(binary.data.every((value) => value === 0 || value === 255)).toBe(true);
    expect(countAbove(binary.data, 0)).toBe(countAbove((await decode(fixture('camera.png'))).data, 102));
  });

  it('uses the level given', async () => {
    const out = await operation.run(openFixture('astronaut.png'), { level: 200 }, context);
    const binary = await decode(out.data);
    expect(binary.data.every((value) => value === 0 || value === 255)).toBe(true);
    expect(countAbove(binary.data, 0)).toBe(countAbove(await greyOf('astronaut.png'), 200));
  });

  it.each([{ level: -1 }, { level: 256 }, { level: 12.5 }])('rejects %j', (raw) => {
    const { errors } = operationCatalog.validateParams('threshold', raw);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every(({ field }) => field === 'params.threshold.level')).toBe(true);
  });
});
