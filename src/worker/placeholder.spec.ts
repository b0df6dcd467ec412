import sharp from 'sharp';
import { fixture, context } from '../../test/fixtures/fixtures';
import {
  colourDistance,
  DOMINANT_TOLERANCE,
  dominantReference,
  levelsOf,
  MEAN_TOLERANCE,
  placeholderDistance,
  QUADRANT_TOLERANCE,
} from '../../test/utils/placeholders';
import { decodeFacts, decodeFailure } from './image-decode';
import { encode } from './operations/encode';
import { operation as grayscale } from './operations/grayscale.operation';
import { dominantColorOf, placeholderOfRgba } from './placeholder';

const PHOTOS = ['astronaut.jpg', 'coffee.png', 'astronaut-orientation-6.jpg', 'camera.png'];

function rgba(colours: number[][]): Uint8ClampedArray {
  return Uint8ClampedArray.from(colours.flatMap((colour) => [...colour, 255]));
}

describe('dominantColorOf', () => {
  it("is the mean of the commonest bin's pixels, not the mean of the picture", () => {
    const pixels = rgba([...Array<number[]>(3).fill([250, 10, 10]), [230, 30, 20], [0, 0, 255], [0, 0, 250]]);
    expect(dominantColorOf(pixels)).toBe('#f50f0d');
  });

  it('writes each channel as two hex digits', () => {
    expect(dominantColorOf(rgba([[1, 2, 3]]))).toBe('#010203');
  });
});

describe('placeholderOfRgba', () => {
  it('gives 4×3 components to a landscape picture and 3×4 to a portrait one, per the size flag in the first character', () => {
    const pixels = new Uint8Array(32 * 32 * 4).fill(128);
    // The first base-83 digit is (x - 1) + (y - 1) × 9: 21 is "L", 29 is "T".
    expect(placeholderOfRgba(pixels, 32, 32, true).blurhash[0]).toBe('L');
    expect(placeholderOfRgba(pixels, 32, 32, false).blurhash[0]).toBe('T');
  });
});

describe('decodeFacts', () => {
  it.each(PHOTOS)('gives %s its oriented size, and placeholders within tolerance of the photo', async (name) => {
    const photo = fixture(name);
    const decoded = await decodeFacts(photo, 50_000_000);
    if (!('facts' in decoded)) throw new Error(decoded.failure);
    const { facts } = decoded;
    const { autoOrient } = await sharp(photo).metadata();
    expect({ width: facts.width, height: facts.height }).toEqual(autoOrient);
    const distance = await placeholderDistance(photo, facts.blurhash);
    expect(distance.mean).toBeLessThanOrEqual(MEAN_TOLERANCE);
    expect(distance.quadrants).toBeLessThanOrEqual(QUADRANT_TOLERANCE);
    expect(colourDistance(levelsOf(facts.dominantColor), await dominantReference(photo))).toBeLessThanOrEqual(DOMINANT_TOLERANCE);
    expect(facts.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('is upright for a photo stored sideways (EXIF orientation 6): 160×256, and a hash of the upright picture', async () => {
    const decoded = await decodeFacts(fixture('astronaut-orientation-6.jpg'), 50_000_000);
    if (!('facts' in decoded)) throw new Error(decoded.failure);
    expect(decoded.facts).toMatchObject({ width: 160, height: 256 });
    const sideways = await sharp(fixture('astronaut-orientation-6.jpg')).jpeg().toBuffer();
    expect((await placeholderDistance(sideways, decoded.facts.blurhash)).quadrants).toBeGreaterThan(QUADRANT_TOLERANCE);
  });

  it('tells whatever decodeFailure tells of a file that does not decode', async () => {
    const jpeg = Buffer.from(fixture('astronaut.jpg'));
    const scan = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    for (let index = 0; index < jpeg[scan + 4]; index++) jpeg[scan + 6 + 2 * index] = 0x33;
    expect(await decodeFacts(jpeg, 50_000_000)).toEqual({ failure: await decodeFailure(jpeg, 50_000_000) });
    expect(await decodeFacts(fixture('astronaut.jpg'), 512 * 512 - 1)).toEqual({ failure: expect.stringMatching(/pixel limit/) });
  });
});

describe('encode', () => {
  it("gives an output the facts of its own pixels: a JPEG's from its bytes", async () => {
    const photo = fixture('coffee.png');
    const output = await encode(sharp(photo).resize(150), 'jpeg', context, 85);
    expect({ width: output.width, height: output.height }).toEqual({ width: 150, height: 100 });
    const distance = await placeholderDistance(output.data, output.blurhash);
    expect(distance.mean).toBeLessThanOrEqual(MEAN_TOLERANCE);
    expect(distance.quadrants).toBeLessThanOrEqual(QUADRANT_TOLERANCE);
  });

  it("and a grey-level output's from the levels it holds, the same as from its PNG", async () => {
    const output = await grayscale.run(sharp(fixture('coffee.png')), {}, context);
    const fromPng = await decodeFacts(output.data, 50_000_000);
    expect(fromPng).toEqual({ facts: { width: 300, height: 200, blurhash: output.blurhash, dominantColor: output.dominantColor } });
  });
});
