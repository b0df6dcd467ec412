import { encodeGreyLevels, readGreyLevels } from './grey-levels';
import type { Operation } from './operation';

export const operation: Operation = {
  name: 'grayscale',
  description: "Converts to 8-bit grey with scikit-image's rgb2gray weights (0.2125 R + 0.7154 G + 0.0721 B); PNG.",
  async run(input, _params, context) {
    return encodeGreyLevels(await readGreyLevels(input), context);
  },
};
