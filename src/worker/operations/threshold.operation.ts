import { countGreyLevels, encodeGreyLevels, readGreyLevels } from './grey-levels';
import { defineOperation } from './operation';
import { otsuThreshold } from './otsu';

export const operation = defineOperation('threshold', async (input, { level }, context) => {
  const grey = await readGreyLevels(input);
  const cut = level ?? otsuThreshold(countGreyLevels(grey.data));
  const { data } = grey;
  const binary = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) binary[i] = data[i] > cut ? 255 : 0;
  return encodeGreyLevels({ ...grey, data: binary }, context);
});
