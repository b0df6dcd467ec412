import { RESIZE_DEFAULT_FIT } from '../../pipelines/operation-params';
import { encodePng } from './encode';
import { defineOperation } from './operation';

export const operation = defineOperation('resize', (input, { width, height, fit }, context) =>
  // `??` also covers the JSON null that @IsOptional lets through.
  encodePng(input.resize({ width, height, fit: fit ?? RESIZE_DEFAULT_FIT }), context),
);
