import { IsNumber, IsOptional, Max, Min } from 'class-validator';
import { encodePng } from './encode';
import type { Operation } from './operation';

const DEFAULT_SIGMA = 2;

export class BlurParams {
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.3)
  @Max(1000)
  sigma?: number;
}

export const operation: Operation<BlurParams> = {
  name: 'blur',
  description: `Gaussian blur of sigma pixels (0.3 to 1000, default ${DEFAULT_SIGMA}); PNG.`,
  params: BlurParams,
  run(input, { sigma }, context) {
    // The default is applied here, not in BlurParams, because jobs store the parameters as given;
    // `??` also covers the JSON null that @IsOptional lets through.
    return encodePng(input.blur(sigma ?? DEFAULT_SIGMA), context);
  },
};
