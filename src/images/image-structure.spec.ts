import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { fixture } from '../../test/fixtures/fixtures';
import { InvalidInputError } from '../pipelines/invalid-input.error';
import { ImageStructure, ImageStructureCheck, UnsupportedImageError } from './image-structure';

const MAX_PIXELS = 50_000_000;

/** The check fed `bytes` in chunks of `chunkBytes`, as a stream hands them over. */
function check(bytes: Buffer, chunkBytes = 4096, maxPixels = MAX_PIXELS): ImageStructure {
  const structure = new ImageStructureCheck(maxPixels);
  for (let at = 0; at < bytes.length; at += chunkBytes) structure.push(bytes.subarray(at, at + chunkBytes));
  return structure.end();
}

function refusal(bytes: Buffer, chunkBytes = 4096, maxPixels = MAX_PIXELS): Error {
  try {
    check(bytes, chunkBytes, maxPixels);
  } catch (error) {
    return error as Error;
  }
  throw new Error('The check accepted the file');
}

function brokenBecause(bytes: Buffer, reason: RegExp): void {
  for (const chunkBytes of [1, 13, 4096, bytes.length]) {
    const error = refusal(bytes, chunkBytes);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toMatch(/^The image is corrupt or truncated: /);
    expect(error.message).toMatch(reason);
  }
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

function pngClaiming(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const signature = fixture('coffee.png').subarray(0, 8);
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', Buffer.alloc(16)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A copy of `bytes` with the four bytes of `from` (first found after `after`) replaced by `to`. */
function renamed(bytes: Buffer, from: string, to: string, after = 0): Buffer {
  const copy = Buffer.from(bytes);
  const at = copy.indexOf(from, after, 'latin1');
  expect(at).toBeGreaterThanOrEqual(0);
  copy.write(to, at, 'latin1');
  return copy;
}

const coffee = () => sharp(fixture('coffee.png'));

describe('ImageStructureCheck', () => {
  it.each([
    ['astronaut.jpg', 'jpeg', 512, 512],
    ['astronaut-orientation-6.jpg', 'jpeg', 256, 160],
    ['astronaut.png', 'png', 256, 256],
    ['camera.png', 'png', 512, 512],
    ['coffee.png', 'png', 300, 200],
  ])('reads %s whole, however it is cut into chunks', (name, format, width, height) => {
    for (const chunkBytes of [1, 7, 4096, 1 << 20]) expect(check(fixture(name), chunkBytes)).toEqual({ format, width, height, pages: 1 });
  });

  it.each([
    ['jpeg', () => coffee().jpeg()],
    ['progressive jpeg', () => coffee().jpeg({ progressive: true })],
    ['png', () => coffee().png()],
    ['webp', () => coffee().webp()],
    ['lossless webp', () => coffee().webp({ lossless: true })],
    ['webp with alpha', () => coffee().ensureAlpha(0.5).webp()],
    ['gif', () => coffee().gif()],
    ['tiff', () => coffee().tiff()],
    ['tiled tiff with JPEG compression', () => coffee().tiff({ tile: true, tileWidth: 64, tileHeight: 64, compression: 'jpeg' })],
    ['deflate tiff', () => coffee().tiff({ compression: 'deflate', predictor: 'horizontal' })],
    ['avif', () => coffee().avif()],
  ])('reads a %s made by sharp, as its decoder sizes it', async (_, make) => {
    const bytes = await make().toBuffer();
    const metadata = await sharp(bytes).metadata();
    const structure = check(bytes, 1000);
    expect([structure.width, structure.height]).toEqual([metadata.width, metadata.height]);
    expect(structure.format).toBe(metadata.format === 'heif' ? 'avif' : metadata.format);
  });

  it('counts every frame of a GIF against the pixel limit, as the decoder counts pages', async () => {
    const single = await sharp(fixture('coffee.png')).resize(50).gif().toBuffer();
    const head = 13 + (single[10] & 0x80 ? 3 << ((single[10] & 7) + 1) : 0);
    const frame = single.subarray(head, single.length - 1);
    const animated = Buffer.concat([single.subarray(0, head), frame, frame, frame, Buffer.from([0x3b])]);
    const metadata = await sharp(animated).metadata();
    expect(check(animated)).toEqual({ format: 'gif', width: 50, height: metadata.pageHeight ?? metadata.height, pages: metadata.pages });
    expect(metadata.pages).toBe(3);
    const limit = 50 * 33 * 3 - 1;
    expect(refusal(animated, 4096, limit).message).toBe(`The image is 50×99 pixels, more than the ${limit}-pixel limit`);
  });

  it('refuses a header declaring more pixels than the limit, before reading on', () => {
    const error = refusal(pngClaiming(100_000, 100_000).subarray(0, 33));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toBe(`The image is 100000×100000 pixels, more than the ${MAX_PIXELS}-pixel limit`);
    expect(check(pngClaiming(5000, 10_000))).toMatchObject({ width: 5000, height: 10_000 });
  });

  it.each([
    ['text', Buffer.from('hello, I am not a picture\n'.repeat(40)), undefined],
    ['a few bytes', Buffer.from([0xff, 0xd8]), undefined],
    ['an SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'svg'],
    ['a PDF', Buffer.from('%PDF-1.7\n%âãÏÓ\n'), 'pdf'],
    ['an MP4', Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom\0\0\0\0isomiso2', 'latin1')]), undefined],
    ['a HEIC', Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1')]), 'heif'],
  ])('refuses %s as not an accepted image (415)', (_, bytes, named) => {
    const error = refusal(bytes);
    expect(error).toBeInstanceOf(UnsupportedImageError);
    expect(error.message).toBe(new UnsupportedImageError(named).message);
  });

  it('refuses a truncated JPEG, and one whose scan comes before any frame header', () => {
    const jpeg = fixture('astronaut.jpg');
    brokenBecause(jpeg.subarray(0, 20_000), /the JPEG ends before its end-of-image marker \(EOI\)/);
    brokenBecause(jpeg.subarray(0, jpeg.length - 2), /end-of-image marker/);
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    const withoutFrame = Buffer.from(jpeg);
    withoutFrame[sof + 1] = 0xef;
    brokenBecause(withoutFrame, /no frame header \(SOF\) before its scan/);
  });

  it('refuses a PNG with a flipped CRC byte, one without IEND, and one whose chunk runs past the end', () => {
    const png = fixture('coffee.png');
    const flipped = Buffer.from(png);
    const idat = png.indexOf('IDAT', 0, 'latin1');
    const crcAt = idat + 4 + png.readUInt32BE(idat - 4);
    flipped[crcAt] ^= 0x01;
    brokenBecause(flipped, /PNG chunk IDAT has a bad CRC/);
    brokenBecause(png.subarray(0, png.length - 12), /the PNG ends before its IEND chunk/);
    brokenBecause(png.subarray(0, idat + 100), /PNG chunk IDAT runs past the end of the file/);
  });

  it('refuses a WebP whose RIFF size disagrees with the file', async () => {
    const webp = await coffee().webp().toBuffer();
    brokenBecause(webp.subarray(0, webp.length - 10), /RIFF header says the file is \d+ bytes; it is shorter/);
    brokenBecause(Buffer.concat([webp, Buffer.alloc(8)]), /RIFF header says the file is \d+ bytes; it is longer/);
  });

  it('refuses a GIF without its trailer', async () => {
    const gif = await coffee().gif().toBuffer();
    brokenBecause(gif.subarray(0, gif.length - 1), /the GIF ends before its trailer/);
  });

  it('refuses a TIFF whose directory or strips point past the end', async () => {
    const tiff = await coffee().tiff().toBuffer();
    brokenBecause(tiff.subarray(0, tiff.length - 100), /TIFF .* past the end of the file/);
    const lost = Buffer.from(tiff);
    lost.writeUInt32LE(tiff.length + 10, 4);
    brokenBecause(lost, /a TIFF directory \(IFD\) points past the end of the file/);
  });

  it('refuses an AVIF whose boxes overrun the file, or without an image size (ispe)', async () => {
    const avif = await coffee().avif().toBuffer();
    brokenBecause(avif.subarray(0, avif.length - 10), /AVIF box mdat runs past the end of the file/);
    brokenBecause(renamed(avif, 'ispe', 'xspe'), /the AVIF has no image size property \(ispe\)/);
  });

  it('accepts trailing bytes after a JPEG or PNG end, as the decoders do', () => {
    expect(check(Buffer.concat([fixture('astronaut.jpg'), Buffer.from('trailing')])).format).toBe('jpeg');
    expect(check(Buffer.concat([fixture('coffee.png'), Buffer.from('trailing')])).format).toBe('png');
  });

  it('names the format once its first 12 bytes are in', () => {
    const seen: string[] = [];
    const structure = new ImageStructureCheck(MAX_PIXELS, (format) => seen.push(format));
    structure.push(fixture('astronaut.jpg').subarray(0, 11));
    expect(seen).toEqual([]);
    structure.push(fixture('astronaut.jpg').subarray(11, 12));
    expect(seen).toEqual(['jpeg']);
    expect(structure.format).toBe('jpeg');
  });
});
