import { encodePng } from './encode';
import type { Operation } from './operation';

export const operation: Operation = {
  name: 'flop',
  description: 'Mirrors left to right; PNG.',
  run(input, _params, context) {
    return encodePng(input.flop(), context);
  },
};
