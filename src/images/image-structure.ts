import { crc32 } from 'node:zlib';
import { invalidField, type InvalidInputError } from '../pipelines/invalid-input.error';
import { IMAGE_FORMATS, ImageFormat } from '../pipelines/image-formats';

/** What an upload's structure declares: its format, its first page's size, and how many pages the pixel limit counts. */
export interface ImageStructure {
  format: ImageFormat;
  width: number;
  height: number;
  pages: number;
}

const ACCEPTED = Object.keys(IMAGE_FORMATS).join(', ');

/** Not an image, or one in a format that is not accepted (the API answers 415). */
export class UnsupportedImageError extends Error {
  override name = 'UnsupportedImageError';

  constructor(formatName?: string) {
    super(
      formatName === undefined
        ? `The file is not an image in an accepted format (${ACCEPTED})`
        : `Images in ${formatName} format are not accepted; send ${ACCEPTED}`,
    );
  }
}

function broken(reason: string): InvalidInputError {
  return invalidField('file', `The image is corrupt or truncated: ${reason}`);
}

type Request =
  | { kind: 'peek'; n: number }
  | { kind: 'read'; n: number; what: string }
  /** Like read, but null when the input ends exactly here. */
  | { kind: 'readOrEnd'; n: number; what: string }
  | { kind: 'skip'; n: number; what: string; onData?: (piece: Buffer) => void }
  /** JPEG entropy-coded data up to the next marker; answers the marker's code. */
  | { kind: 'marker'; what: string }
  /** Everything left, once the input has ended. */
  | { kind: 'rest' }
  /** Passes over everything left. */
  | { kind: 'drain' }
  /** The input must end here. */
  | { kind: 'end'; what: string }
  | { kind: 'format'; format: ImageFormat }
  | { kind: 'size'; width: number; height: number; pages: number };

type Parser = Generator<Request, void, unknown>;

const read = (n: number, what: string): Request => ({ kind: 'read', n, what });
const skip = (n: number, what: string, onData?: (piece: Buffer) => void): Request => ({ kind: 'skip', n, what, onData });

/**
 * Checks an image file's structure as its bytes stream past, decoding no pixel: the signature
 * names the format, the headers its size, and the container's framing (chunk lengths and CRCs,
 * segment markers, box sizes, strip offsets, trailers) must hold together up to the end. Each
 * chunk is looked at once and not kept, except a TIFF's (its directories may point anywhere, so
 * it is read whole, within the upload's size limit) and an AVIF's small header boxes.
 *
 * `push` and `end` throw UnsupportedImageError or InvalidInputError (field `file`), the first
 * fault found; after one, the check is over. A size over `maxPixels` (width × height × pages, as
 * the decoder would count it) is refused as soon as a header declares it.
 */
export class ImageStructureCheck {
  private readonly parser: Parser;
  private request: Request;
  private readonly pieces: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private done = false;
  private sawFF = false;
  private structure: Partial<ImageStructure> = {};

  constructor(
    private readonly maxPixels: number,
    private readonly onFormat: (format: ImageFormat) => void = () => undefined,
  ) {
    this.parser = parseImage();
    this.request = this.next(undefined);
  }

  /** The format, once the signature (and for AVIF, its `ftyp` box) has been read. */
  get format(): ImageFormat | undefined {
    return this.structure.format;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.done) {
      if (this.request.kind === 'end') throw broken(this.request.what);
      return;
    }
    this.pieces.push(chunk);
    this.buffered += chunk.length;
    this.pump();
  }

  /** The input is complete: the structure, or the reason it is not a whole image. */
  end(): ImageStructure {
    this.ended = true;
    if (!this.done) this.pump();
    if (!this.done) throw new Error('The image structure check stopped before the end of its input');
    const { format, width, height, pages } = this.structure;
    return { format: format!, width: width!, height: height!, pages: pages ?? 1 };
  }

  private next(answer: unknown): Request {
    const step = this.parser.next(answer);
    if (step.done) {
      this.done = true;
      this.pieces.length = 0;
      this.buffered = 0;
      return { kind: 'rest' };
    }
    return step.value;
  }

  private pump(): void {
    while (!this.done) {
      const request = this.request;
      let answer: unknown;
      switch (request.kind) {
        case 'format':
          this.structure.format = request.format;
          this.onFormat(request.format);
          break;
        case 'size':
          this.checkSize(request.width, request.height, request.pages);
          break;
        case 'peek':
          if (this.buffered < request.n && !this.ended) return;
          answer = this.peek(Math.min(request.n, this.buffered));
          break;
        case 'read':
        case 'readOrEnd':
          if (this.buffered < request.n) {
            if (!this.ended) return;
            if (request.kind === 'readOrEnd' && this.buffered === 0) {
              answer = null;
              break;
            }
            throw broken(request.what);
          }
          answer = this.take(request.n);
          break;
        case 'skip':
          this.skip(request);
          if (request.n > 0) {
            if (!this.ended) return;
            throw broken(request.what);
          }
          break;
        case 'marker': {
          const code = this.scanMarker();
          if (code === null) {
            if (!this.ended) return;
            throw broken(request.what);
          }
          answer = code;
          break;
        }
        case 'rest':
          if (!this.ended) return;
          answer = this.take(this.buffered);
          break;
        case 'drain':
          this.drop(this.buffered);
          if (!this.ended) return;
          break;
        case 'end':
          if (this.buffered > 0) throw broken(request.what);
          if (!this.ended) {
            // Waits for the end with the parser finished: push refuses any further byte.
            this.done = true;
            return;
          }
          break;
      }
      this.request = this.next(answer);
    }
  }

  private checkSize(width: number, height: number, pages: number): void {
    if (width <= 0 || height <= 0) throw broken(`its header declares a size of ${width}×${height} pixels`);
    const counted = height * pages;
    if (width * counted > this.maxPixels) {
      throw invalidField('file', `The image is ${width}×${counted} pixels, more than the ${this.maxPixels}-pixel limit`);
    }
    if (this.structure.width === undefined) Object.assign(this.structure, { width, height });
    this.structure.pages = pages;
  }

  private peek(n: number): Buffer {
    const joined = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces);
    this.pieces.splice(0, this.pieces.length, joined);
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const taken = Buffer.from(this.peek(n));
    this.drop(n);
    return taken;
  }

  private drop(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.pieces[0];
      if (first.length <= n) {
        this.pieces.shift();
        n -= first.length;
      } else {
        this.pieces[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  private skip(request: Extract<Request, { kind: 'skip' }>): void {
    while (request.n > 0 && this.pieces.length > 0) {
      const first = this.pieces[0];
      const piece = first.subarray(0, Math.min(first.length, request.n));
      request.onData?.(piece);
      request.n -= piece.length;
      this.drop(piece.length);
    }
  }

  /** Entropy-coded data runs to the next 0xFF that is not a stuffed 0x00, a restart marker or fill. */
  private scanMarker(): number | null {
    while (this.pieces.length > 0) {
      const first = this.pieces[0];
      let index = 0;
      while (index < first.length) {
        if (this.sawFF) {
          const code = first[index++];
          if (code === 0xff) continue;
          this.sawFF = false;
          if (code === 0x00 || (code >= 0xd0 && code <= 0xd7)) continue;
          this.drop(index);
          return code;
        }
        const found = first.indexOf(0xff, index);
        if (found === -1) {
          index = first.length;
          break;
        }
        this.sawFF = true;
        index = found + 1;
      }
      this.drop(index);
    }
    return null;
  }
}

function* parseImage(): Parser {
  const head = (yield { kind: 'peek', n: 12 }) as Buffer;
  const ascii = (start: number, end: number) => head.toString('latin1', start, end);
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return yield* parseJpeg();
  if (head.subarray(0, 8).equals(PNG_SIGNATURE)) return yield* parsePng();
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return yield* parseGif();
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return yield* parseWebp();
  if (['II*\0', 'MM\0*', 'II+\0', 'MM\0+'].includes(ascii(0, 4))) return yield* parseTiff();
  if (ascii(4, 8) === 'ftyp') return yield* parseAvif();
  throw new UnsupportedImageError(otherFormat(head));
}

/** Formats the decoder knows but uploads do not take, named as it names them. */
function otherFormat(head: Buffer): string | undefined {
  const text = head.toString('latin1').trimStart();
  if (text.startsWith('<svg') || text.startsWith('<?xml')) return 'svg';
  if (text.startsWith('%PDF')) return 'pdf';
  if (head.subarray(4, 8).toString('latin1') === 'jP  ') return 'jp2k';
  if ((head[0] === 0xff && head[1] === 0x0a) || head.subarray(4, 8).toString('latin1') === 'JXL ') return 'jxl';
  return undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const NO_IEND = 'the PNG ends before its IEND chunk';

function* parsePng(): Parser {
  yield read(8, NO_IEND);
  yield { kind: 'format', format: 'png' };
  let first = true;
  let sawData = false;
  for (;;) {
    const header = (yield read(8, NO_IEND)) as Buffer;
    const length = header.readUInt32BE(0);
    const type = header.toString('latin1', 4, 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw broken('the PNG has a malformed chunk type');
    if (length > 0x7fffffff) throw broken(`PNG chunk ${type} declares a length over 2³¹`);
    if (first !== (type === 'IHDR')) throw broken(first ? 'the PNG does not start with its IHDR chunk' : 'the PNG has a second IHDR chunk');
    let crc = crc32(header.subarray(4, 8));
    const pastEnd = `PNG chunk ${type} runs past the end of the file`;
    if (type === 'IHDR') {
      if (length !== 13) throw broken(`PNG chunk IHDR is ${length} bytes long, not 13`);
      const data = (yield read(length, pastEnd)) as Buffer;
      crc = crc32(data, crc);
      yield { kind: 'size', width: data.readUInt32BE(0), height: data.readUInt32BE(4), pages: 1 };
    } else {
      yield skip(length, pastEnd, (piece) => (crc = crc32(piece, crc)));
    }
    const stored = ((yield read(4, pastEnd)) as Buffer).readUInt32BE(0);
    if (stored !== crc) throw broken(`PNG chunk ${type} has a bad CRC`);
    first = false;
    if (type === 'IDAT') sawData = true;
    if (type === 'IEND') {
      if (!sawData) throw broken('the PNG has no image data (IDAT chunk)');
      return;
    }
  }
}

const NO_EOI = 'the JPEG ends before its end-of-image marker (EOI)';

function* parseJpeg(): Parser {
  yield read(2, NO_EOI);
  yield { kind: 'format', format: 'jpeg' };
  let frame = false;
  let scanned = false;
  for (;;) {
    // Bytes before a marker are skipped as the decoder skips them: entropy-coded data, or stray bytes it only warns about.
    const code = (yield { kind: 'marker', what: NO_EOI }) as number;
    if (code === 0xd9) {
      if (!scanned) throw broken('the JPEG ends before any scan (SOS)');
      return;
    }
    if (code === 0xd8) throw broken('the JPEG has a second start-of-image marker (SOI) before its end');
    if (code === 0x01) continue;
    const length = ((yield read(2, NO_EOI)) as Buffer).readUInt16BE(0);
    if (length < 2) throw broken(`the JPEG has a segment (0xFF${hex(code)}) declaring a length of ${length}`);
    const isFrame = code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc;
    if (isFrame) {
      if (length < 8) throw broken('the JPEG frame header (SOF) is too short');
      const data = (yield read(length - 2, NO_EOI)) as Buffer;
      if (!frame) yield { kind: 'size', width: data.readUInt16BE(3), height: data.readUInt16BE(1), pages: 1 };
      frame = true;
    } else {
      if (code === 0xda && !frame) throw broken('the JPEG has no frame header (SOF) before its scan');
      yield skip(length - 2, NO_EOI);
    }
    if (code === 0xda) scanned = true;
  }
}

const NO_TRAILER = 'the GIF ends before its trailer';

function* parseGif(): Parser {
  const screen = (yield read(13, NO_TRAILER)) as Buffer;
  yield { kind: 'format', format: 'gif' };
  const width = screen.readUInt16LE(6);
  const height = screen.readUInt16LE(8);
  if (screen[10] & 0x80) yield skip(3 << ((screen[10] & 7) + 1), NO_TRAILER);
  let frames = 0;
  for (;;) {
    const block = ((yield read(1, NO_TRAILER)) as Buffer)[0];
    if (block === 0x3b) {
      if (frames === 0) throw broken('the GIF has no image');
      return;
    }
    if (block === 0x2c) {
      const descriptor = (yield read(9, NO_TRAILER)) as Buffer;
      if (descriptor[8] & 0x80) yield skip(3 << ((descriptor[8] & 7) + 1), NO_TRAILER);
      yield read(1, NO_TRAILER);
      frames++;
      yield { kind: 'size', width, height, pages: frames };
    } else if (block === 0x21) {
      yield read(1, NO_TRAILER);
    } else {
      throw broken(`the GIF has an unknown block (0x${hex(block)})`);
    }
    for (;;) {
      const size = ((yield read(1, NO_TRAILER)) as Buffer)[0];
      if (size === 0) break;
      yield skip(size, NO_TRAILER);
    }
  }
}

function* parseWebp(): Parser {
  const header = (yield read(12, 'the WebP ends inside its header')) as Buffer;
  yield { kind: 'format', format: 'webp' };
  const fileBytes = header.readUInt32LE(4) + 8;
  const shorter = `the WebP's RIFF header says the file is ${fileBytes} bytes; it is shorter`;
  let position = 12;
  let canvas: { width: number; height: number } | null = null;
  let frames = 0;
  let sawImage = false;
  while (position < fileBytes) {
    const chunk = (yield read(8, shorter)) as Buffer;
    const type = chunk.toString('latin1', 0, 4);
    const size = chunk.readUInt32LE(4);
    const padded = size + (size & 1);
    if (position + 8 + padded > fileBytes) throw broken(`WebP chunk ${type.trim()} runs past the RIFF size`);
    position += 8 + padded;
    let data: Buffer | null = null;
    if (type === 'VP8X' || type === 'VP8 ' || type === 'VP8L') {
      const wanted = { VP8X: 10, 'VP8 ': 10, VP8L: 5 }[type];
      if (size < wanted) throw broken(`WebP chunk ${type.trim()} is too short`);
      data = (yield read(wanted, shorter)) as Buffer;
      yield skip(padded - wanted, shorter);
    } else {
      yield skip(padded, shorter);
    }
    if (type === 'VP8X') {
      canvas = { width: 1 + data!.readUIntLE(4, 3), height: 1 + data!.readUIntLE(7, 3) };
      yield { kind: 'size', ...canvas, pages: 1 };
    } else if (type === 'ANMF') {
      if (!canvas) throw broken('the WebP has an animation frame but no VP8X header');
      frames++;
      sawImage = true;
      yield { kind: 'size', ...canvas, pages: frames };
    } else if (type === 'VP8 ') {
      if (data![3] !== 0x9d || data![4] !== 0x01 || data![5] !== 0x2a) throw broken('the WebP has a VP8 frame without its start code');
      sawImage = true;
      if (!canvas) yield { kind: 'size', width: data!.readUInt16LE(6) & 0x3fff, height: data!.readUInt16LE(8) & 0x3fff, pages: 1 };
    } else if (type === 'VP8L') {
      if (data![0] !== 0x2f) throw broken('the WebP has a VP8L frame without its signature');
      sawImage = true;
      const bits = data!.readUInt32LE(1);
      if (!canvas) yield { kind: 'size', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, pages: 1 };
    }
  }
  if (!sawImage) throw broken('the WebP has no image data');
  yield { kind: 'end', what: `the WebP's RIFF header says the file is ${fileBytes} bytes; it is longer` };
}

const TIFF_TYPE_BYTES: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};
const TIFF_TAGS = { width: 256, height: 257, stripOffsets: 273, stripByteCounts: 279, tileOffsets: 324, tileByteCounts: 325 } as const;
const MAX_TIFF_DIRECTORIES = 10_000;

function* parseTiff(): Parser {
  yield { kind: 'format', format: 'tiff' };
  const file = (yield { kind: 'rest' }) as Buffer;
  if (file.length < 8) throw broken('the TIFF ends inside its header');
  const little = file[0] === 0x49;
  const big = (little ? file.readUInt16LE(2) : file.readUInt16BE(2)) === 43;
  const u16 = (at: number) => (little ? file.readUInt16LE(at) : file.readUInt16BE(at));
  const u32 = (at: number) => (little ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const u64 = (at: number) => Number(little ? file.readBigUInt64LE(at) : file.readBigUInt64BE(at));
  const offsetAt = big ? u64 : u32;
  const entryBytes = big ? 20 : 12;
  const inline = big ? 8 : 4;
  if (big && file.length < 16) throw broken('the TIFF ends inside its header');
  let directory = offsetAt(big ? 8 : 4);
  const seen = new Set<number>();
  let first = true;
  while (directory !== 0) {
    if (seen.has(directory) || seen.size >= MAX_TIFF_DIRECTORIES) throw broken('the TIFF directories form a loop');
    seen.add(directory);
    const countBytes = big ? 8 : 2;
    if (directory + countBytes > file.length) throw broken(`a TIFF directory (IFD) points past the end of the file (byte ${directory})`);
    const count = big ? u64(directory) : u16(directory);
    const entries = directory + countBytes;
    const next = entries + count * entryBytes;
    if (next + inline > file.length) throw broken(`a TIFF directory (IFD) runs past the end of the file (byte ${directory})`);
    const values = new Map<number, number[]>();
    for (let index = 0; index < count; index++) {
      const entry = entries + index * entryBytes;
      const tag = u16(entry);
      const type = u16(entry + 2);
      const items = big ? u64(entry + 4) : u32(entry + 4);
      const size = TIFF_TYPE_BYTES[type];
      if (size === undefined) continue;
      const bytes = items * size;
      const at = bytes <= inline ? entry + (big ? 12 : 8) : offsetAt(entry + (big ? 12 : 8));
      if (at + bytes > file.length) throw broken(`TIFF tag ${tag}'s values point past the end of the file`);
      if (!(Object.values(TIFF_TAGS) as number[]).includes(tag)) continue;
      const read = { 3: u16, 4: u32, 16: u64 }[type as 3 | 4 | 16];
      if (!read) throw broken(`TIFF tag ${tag} has a type (${type}) that cannot hold it`);
      values.set(
        tag,
        Array.from({ length: items }, (_, item) => read(at + item * size)),
      );
    }
    const tiled = values.has(TIFF_TAGS.tileOffsets);
    const offsets = values.get(tiled ? TIFF_TAGS.tileOffsets : TIFF_TAGS.stripOffsets);
    const counts = values.get(tiled ? TIFF_TAGS.tileByteCounts : TIFF_TAGS.stripByteCounts);
    const unit = tiled ? 'tile' : 'strip';
    if (!offsets || !counts || offsets.length !== counts.length) throw broken(`a TIFF directory lacks its ${unit} offsets or byte counts`);
    offsets.forEach((offset, index) => {
      if (offset + counts[index] > file.length) throw broken(`TIFF ${unit} ${index} points past the end of the file`);
    });
    if (first) {
      const [width] = values.get(TIFF_TAGS.width) ?? [0];
      const [height] = values.get(TIFF_TAGS.height) ?? [0];
      // The decoder reads the first page unless asked for more: the limit counts that one.
      yield { kind: 'size', width, height, pages: 1 };
      first = false;
    }
    directory = offsetAt(next);
  }
  if (first) throw broken('the TIFF has no image directory (IFD)');
}

const AVIF_BRANDS = ['avif', 'avis'];
const HEIF_BRANDS = ['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'];
/** Header boxes are small; a larger one is not an image this server takes. */
const MAX_AVIF_HEADER_BOX = 1 << 20;

function* parseAvif(): Parser {
  let sawFileType = false;
  let size: { width: number; height: number } | null = null;
  for (;;) {
    const header = (yield { kind: 'readOrEnd', n: 8, what: 'the AVIF ends inside a box header' }) as Buffer | null;
    if (header === null) break;
    const type = header.toString('latin1', 4, 8);
    let boxBytes = header.readUInt32BE(0);
    let headerBytes = 8;
    if (boxBytes === 1) {
      boxBytes = Number(((yield read(8, 'the AVIF ends inside a box header')) as Buffer).readBigUInt64BE(0));
      headerBytes = 16;
    }
    if (!sawFileType && type !== 'ftyp') throw new UnsupportedImageError();
    if (boxBytes === 0) {
      if (type !== 'mdat') throw broken(`AVIF box ${type} runs to the end of the file`);
      yield { kind: 'drain' };
      break;
    }
    if (boxBytes < headerBytes) throw broken(`AVIF box ${type} declares a size of ${boxBytes} bytes`);
    const body = boxBytes - headerBytes;
    const overrun = `AVIF box ${type} runs past the end of the file`;
    if (type === 'ftyp' || type === 'meta') {
      if (body > (type === 'ftyp' ? 4096 : MAX_AVIF_HEADER_BOX)) {
        if (type === 'ftyp') throw new UnsupportedImageError();
        throw broken(`AVIF box meta is ${body} bytes, more than ${MAX_AVIF_HEADER_BOX}`);
      }
      const data = (yield read(body, overrun)) as Buffer;
      if (type === 'ftyp') {
        if (sawFileType) throw broken('the AVIF has a second ftyp box');
        sawFileType = true;
        const brands = [data.toString('latin1', 0, 4)];
        for (let at = 8; at + 4 <= data.length; at += 4) brands.push(data.toString('latin1', at, at + 4));
        if (!brands.some((brand) => AVIF_BRANDS.includes(brand))) {
          throw new UnsupportedImageError(brands.some((brand) => HEIF_BRANDS.includes(brand)) ? 'heif' : undefined);
        }
        yield { kind: 'format', format: 'avif' };
      } else {
        size = largestImageSize(data);
        if (size) yield { kind: 'size', ...size, pages: 1 };
      }
    } else {
      yield skip(body, overrun);
    }
  }
  if (!sawFileType) throw new UnsupportedImageError();
  if (!size) throw broken('the AVIF has no image size property (ispe)');
}

/** The largest `ispe` (image spatial extents) under a `meta` box's body: the primary image's, or a grid's whole size. */
function largestImageSize(meta: Buffer): { width: number; height: number } | null {
  let largest: { width: number; height: number } | null = null;
  const walk = (data: Buffer, start: number, parent: string) => {
    for (let at = start; at < data.length;) {
      if (at + 8 > data.length) throw broken(`AVIF box ${parent} ends inside a box header`);
      const boxBytes = data.readUInt32BE(at);
      const type = data.toString('latin1', at + 4, at + 8);
      if (boxBytes < 8 || at + boxBytes > data.length) throw broken(`AVIF box ${type} overruns its parent box ${parent}`);
      const body = data.subarray(at + 8, at + boxBytes);
      if (type === 'iprp' || type === 'ipco') walk(body, 0, type);
      if (type === 'ispe') {
        if (body.length < 12) throw broken('AVIF box ispe is too short');
        const size = { width: body.readUInt32BE(4), height: body.readUInt32BE(8) };
        if (!largest || size.width * size.height > largest.width * largest.height) largest = size;
      }
      at += boxBytes;
    }
  };
  // meta is a full box: a version and flags come before its children.
  walk(meta, 4, 'meta');
  return largest;
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}
