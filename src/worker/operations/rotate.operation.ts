import { encodePng } from './encode';
import { defineOperation } from './operation';

const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };

export const operation = defineOperation('rotate', (input, { angle }, context) =>
  encodePng(input.rotate(angle, { background: TRANSPARENT }), context),
);
