import { countGreyLevels, encodeGreyLevels, readGreyLevels } from './grey-levels';
import { defineOperation } from './operation';

/**
 * Histogram equalisation as scikit-image's `exposure.equalize_hist` does it for 8-bit images: each level
 * becomes the fraction of pixels at or below it, here times 255.
 */
export function equalizeGreyLevels(levels: Uint8Array): Uint8Array {
  const histogram = countGreyLevels(levels);
  const lookup = new Uint8Array(256);
  let atOrBelow = 0;
  for (let level = 0; level < 256; level++) {
    atOrBelow += histogram[level];
    lookup[level] = Math.round((255 * atOrBelow) / levels.length);
  }
  const equalized = new Uint8Array(levels.length);
  for (let i = 0; i < levels.length; i++) equalized[i] = lookup[levels[i]];
  return equalized;
}

export const operation = defineOperation('equalize', async (input, _params, context) => {
  const grey = await readGreyLevels(input);
  return encodeGreyLevels({ ...grey, data: equalizeGreyLevels(grey.data) }, context);
});
