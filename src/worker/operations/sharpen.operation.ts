import { encodePng } from './encode';
import { defineOperation } from './operation';

export const operation = defineOperation('sharpen', (input, { sigma }, context) =>
  // @IsOptional lets a JSON null through; it means the same as leaving sigma out.
  encodePng(sigma == null ? input.sharpen() : input.sharpen({ sigma }), context),
);
