import { context, decode, fixture, openFixture } from '../../../test/fixtures/fixtures';
import { operation as grayscale } from './grayscale.operation';
import { openStepInput } from '../process-pipeline';
import { operation } from './histogram.operation';

function countLevels(levels: Buffer): number[] {
  const bins = new Array<number>(256).fill(0);
  for (const level of levels) bins[level]++;
  return bins;
}

describe('histogram', () => {
  it('counts the grey levels of a grey photograph', async () => {
    const out = await operation.run(openFixture('camera.png'), {}, context);
    const camera = await decode(fixture('camera.png'));

    expect(out.histogram).toHaveLength(256);
    expect(out.histogram!.every(Number.isInteger)).toBe(true);
    expect(out.histogram!.reduce((a, b) => a + b, 0)).toBe(512 * 512);
    expect(out.histogram).toEqual(countLevels(camera.data));
    // np.bincount(io.imread('camera.png').ravel()) with scikit-image 0.19.3.
    expect([0, 10, 128, 200, 255].map((level) => out.histogram![level])).toEqual([1, 782, 700, 3865, 271]);
  });

  it('counts the same grey levels the grayscale operation produces', async () => {
    const out = await operation.run(openFixture('coffee.png'), {}, context);
    const grey = await decode((await grayscale.run(openFixture('coffee.png'), {}, context)).data);
    expect(out.histogram!.reduce((a, b) => a + b, 0)).toBe(300 * 200);
    expect(out.histogram).toEqual(countLevels(grey.data));
  });

  it('counts the same from the pixels the grayscale step hands on as from its PNG', async () => {
    const grey = await grayscale.run(openFixture('astronaut.jpg'), {}, context);
    expect(grey.pixels).toBeDefined();
    const fromPixels = await operation.run(openStepInput(grey, 100_000_000), {}, context);
    const fromPng = await operation.run(openStepInput({ data: grey.data }, 100_000_000), {}, context);
    expect(fromPixels.histogram).toEqual(fromPng.histogram);
    expect(fromPixels.data.equals(fromPng.data)).toBe(true);
  });

  it('draws the histogram as an 800×400 PNG chart', async () => {
    const out = await operation.run(openFixture('camera.png'), {}, context);
    const chart = await decode(out.data);
    expect(out).toMatchObject({ format: 'png', width: 800, height: 400 });
    expect(chart).toMatchObject({ width: 800, height: 400, channels: 3 });

    const colours = new Set<number>();
    for (let p = 0; p < chart.data.length; p += 3) colours.add((chart.data[p] << 16) | (chart.data[p + 1] << 8) | chart.data[p + 2]);
    expect(colours.has(0xffffff)).toBe(true);
    expect(colours.has(0x4a6fa5)).toBe(true);
  });
});
