import { encodePng } from './encode';
import type { Operation } from './operation';

export const operation: Operation = {
  name: 'flip',
  description: 'Mirrors top to bottom; PNG.',
  run(input, _params, context) {
    return encodePng(input.flip(), context);
  },
};
