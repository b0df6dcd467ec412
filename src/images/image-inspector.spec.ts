import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ImageCheckCrashed, ImageInspector, ImageUnreadable } from './image-inspector';

const fixture = (name: string) => join(__dirname, '..', '..', 'test', 'fixtures', name);

describe('ImageInspector', () => {
  let inspector: ImageInspector;
  const scratch = mkdtempSync(join(tmpdir(), 'darkroom-inspector-'));

  beforeEach(() => {
    inspector = new ImageInspector();
  });

  afterEach(() => inspector.onModuleDestroy());

  it('reads a header and decodes the scanlines in a process of its own', async () => {
    expect(await inspector.header(fixture('astronaut.jpg'))).toMatchObject({ format: 'jpeg', width: 512, height: 512 });
    await inspector.decode(fixture('astronaut.jpg'), 64, 50_000_000);
    expect(inspector.pid).toEqual(expect.any(Number));
    expect(inspector.pid).not.toBe(process.pid);
  });

  it('reports what sharp says of a file it cannot read', async () => {
    const text = join(scratch, 'text.png');
    writeFileSync(text, 'not an image at all');
    await expect(inspector.header(text)).rejects.toBeInstanceOf(ImageUnreadable);
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#888' } }).png().toBuffer();
    const truncated = join(scratch, 'truncated.png');
    writeFileSync(truncated, png.subarray(0, png.length - 40));
    await expect(inspector.decode(truncated, 38, 50_000_000)).rejects.toThrow(ImageUnreadable);
  });

  it('fails the checks in flight when its process dies, and starts another for the next', async () => {
    await inspector.header(fixture('camera.png'));
    const first = inspector.pid!;
    const checks = Array.from({ length: 4 }, () => inspector.decode(fixture('coffee.png'), 400, 50_000_000).then(() => 'done', (error: Error) => error));
    process.kill(first, 'SIGKILL');
    const outcomes = await Promise.all(checks);
    expect(outcomes.some((outcome) => outcome instanceof ImageCheckCrashed)).toBe(true);
    expect(outcomes.every((outcome) => outcome === 'done' || outcome instanceof ImageCheckCrashed)).toBe(true);
    expect(await inspector.header(fixture('camera.png'))).toMatchObject({ format: 'png' });
    expect(inspector.pid).not.toBe(first);
  });
});
