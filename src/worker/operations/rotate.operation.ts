import { IsNumber, Max, Min } from 'class-validator';
import { encodePng } from './encode';
import type { Operation } from './operation';

const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };

export class RotateParams {
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-360)
  @Max(360)
  angle: number;
}

export const operation: Operation<RotateParams> = {
  name: 'rotate',
  description: 'Rotates clockwise by angle degrees (-360 to 360); other than right angles, the corners are transparent; PNG.',
  params: RotateParams,
  run(input, { angle }, context) {
    return encodePng(input.rotate(angle, { background: TRANSPARENT }), context);
  },
};
