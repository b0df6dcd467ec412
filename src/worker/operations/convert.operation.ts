import { encode } from './encode';
import { defineOperation } from './operation';

export const operation = defineOperation('convert', (input, { format, quality }, context) =>
  // @IsOptional lets a JSON null through; it means the same as leaving quality out.
  encode(input, format, context, quality ?? undefined),
);
