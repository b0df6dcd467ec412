import { fixture } from '../../test/fixtures/fixtures';
import { decodeFailure } from './image-decode';

describe('decodeFailure', () => {
  it('is null for photographs that decode', async () => {
    for (const name of ['astronaut.jpg', 'astronaut.png', 'camera.png', 'coffee.png'])
      expect(await decodeFailure(fixture(name), 50_000_000)).toBeNull();
  });

  it("gives the decoder's reason for a JPEG whose scan names Huffman tables it never defines", async () => {
    const jpeg = Buffer.from(fixture('astronaut.jpg'));
    const scan = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    for (let index = 0; index < jpeg[scan + 4]; index++) jpeg[scan + 6 + 2 * index] = 0x33;
    expect(await decodeFailure(jpeg, 50_000_000)).toBe('VipsJpeg: Huffman table 0x03 was not defined');
  });

  it('refuses more pixels than the limit, as a job would', async () => {
    expect(await decodeFailure(fixture('astronaut.jpg'), 512 * 512 - 1)).toMatch(/pixel limit/);
  });
});
