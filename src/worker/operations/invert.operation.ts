import { encodePng } from './encode';
import type { Operation } from './operation';

export const operation: Operation = {
  name: 'invert',
  description: 'Negates the colours, leaving transparency as it is; PNG.',
  run(input, _params, context) {
    return encodePng(input.negate({ alpha: false }), context);
  },
};
