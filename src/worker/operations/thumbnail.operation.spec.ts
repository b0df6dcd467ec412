import sharp from 'sharp';
import { context, fixture, openFixture, openImage } from '../../../test/fixtures/fixtures';
import { operation } from './thumbnail.operation';

describe('thumbnail', () => {
  it('shrinks a photograph into 256×256 as JPEG', async () => {
    const out = await operation.run(openFixture('astronaut.jpg'), {}, context);
    expect(out).toMatchObject({ format: 'jpeg', width: 256, height: 256 });
    expect(await sharp(out.data).metadata()).toMatchObject({ format: 'jpeg', width: 256, height: 256 });
  });

  it('keeps the aspect ratio', async () => {
    const out = await operation.run(openFixture('coffee.png'), {}, context);
    expect(out).toMatchObject({ format: 'jpeg', width: 256, height: 171 });
  });

  it('does not enlarge, and works on the upright image', async () => {
    const out = await operation.run(openFixture('astronaut-orientation-6.jpg'), {}, context);
    const metadata = await sharp(out.data).metadata();
    expect(metadata).toMatchObject({ width: 160, height: 256 });
    expect(metadata.orientation).toBeUndefined();
  });

  it('writes PNG when the image has transparency', async () => {
    const translucent = await sharp(fixture('astronaut.jpg')).ensureAlpha(0.5).png().toBuffer();
    const out = await operation.run(openImage(translucent), {}, context);
    expect(out).toMatchObject({ format: 'png', width: 256, height: 256 });
    expect(await sharp(out.data).metadata()).toMatchObject({ format: 'png', channels: 4 });
  });
});
