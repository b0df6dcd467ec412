import sharp from 'sharp';
import { context, decode, fixture, openFixture, openImage } from '../../../test/fixtures/fixtures';
import { operation } from './invert.operation';

describe('invert', () => {
  it('negates every colour value', async () => {
    const out = await operation.run(openFixture('coffee.png'), {}, context);
    const [before, after] = await Promise.all([decode(fixture('coffee.png')), decode(out.data)]);
    expect(out).toMatchObject({ format: 'png', width: 300, height: 200 });
    expect(after.data.every((value, i) => value === 255 - before.data[i])).toBe(true);
  });

  it('restores the original when applied twice', async () => {
    const once = await operation.run(openFixture('astronaut.png'), {}, context);
    const twice = await operation.run(openImage(once.data), {}, context);
    const [original, restored] = await Promise.all([decode(fixture('astronaut.png')), decode(twice.data)]);
    expect(restored.data.equals(original.data)).toBe(true);
  });

  it('leaves alpha alone', async () => {
    const translucent = await sharp(fixture('coffee.png')).ensureAlpha(0.5).png().toBuffer();
    const out = await operation.run(openImage(translucent), {}, context);
    const [before, after] = await Promise.all([decode(translucent), decode(out.data)]);
    expect(after.channels).toBe(4);
    expect(after.data.every((value, i) => value === (i % 4 === 3 ? before.data[i] : 255 - before.data[i]))).toBe(true);
  });
});
