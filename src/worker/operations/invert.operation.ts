import { encodePng } from './encode';
import { defineOperation } from './operation';

export const operation = defineOperation('invert', (input, _params, context) => encodePng(input.negate({ alpha: false }), context));
