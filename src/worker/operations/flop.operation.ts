import { encodePng } from './encode';
import { defineOperation } from './operation';

export const operation = defineOperation('flop', (input, _params, context) => encodePng(input.flop(), context));
