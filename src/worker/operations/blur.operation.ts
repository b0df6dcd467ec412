import { IsNumber, Max, Min } from 'class-validator';
import { encodePng } from './encode';
import type { Operation } from './operation';

export class BlurParams {
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.3)
  @Max(1000)
  sigma: number = 2;
}

export const operation: Operation<BlurParams> = {
  name: 'blur',
  description: 'Gaussian blur of sigma pixels (0.3 to 1000, default 2); PNG.',
  params: BlurParams,
  run(input, { sigma }, context) {
    return encodePng(input.blur(sigma), context);
  },
};
