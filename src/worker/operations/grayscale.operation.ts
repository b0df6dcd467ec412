import { encodeGreyLevels, readGreyLevels } from './grey-levels';
import { defineOperation } from './operation';

export const operation = defineOperation('grayscale', async (input, _params, context) =>
  encodeGreyLevels(await readGreyLevels(input), context),
);
