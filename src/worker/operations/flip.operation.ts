import { encodePng } from './encode';
import { defineOperation } from './operation';

export const operation = defineOperation('flip', (input, _params, context) => encodePng(input.flip(), context));
