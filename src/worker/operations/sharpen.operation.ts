import { IsNumber, IsOptional, Max, Min } from 'class-validator';
import { encodePng } from './encode';
import type { Operation } from './operation';

export class SharpenParams {
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.000001)
  @Max(10)
  sigma?: number;
}

export const operation: Operation<SharpenParams> = {
  name: 'sharpen',
  description: 'Unsharp mask of the lightness; sigma (0.000001 to 10) sets its radius, else a quick mild sharpen; PNG.',
  params: SharpenParams,
  run(input, { sigma }, context) {
    // @IsOptional lets a JSON null through; it means the same as leaving sigma out.
    return encodePng(sigma == null ? input.sharpen() : input.sharpen({ sigma }), context);
  },
};
