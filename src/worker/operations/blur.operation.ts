import { BLUR_DEFAULT_SIGMA } from '../../pipelines/operation-params';
import { encodePng } from './encode';
import { defineOperation } from './operation';

export const operation = defineOperation('blur', (input, { sigma }, context) =>
  // `??` also covers the JSON null that @IsOptional lets through.
  encodePng(input.blur(sigma ?? BLUR_DEFAULT_SIGMA), context),
);
