import { IsIn, IsOptional, ValidateBy } from 'class-validator';
import { encodePng } from './encode';
import type { Operation } from './operation';

const MAX_SIDE = 10_000;
const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;

const isSide = (value: unknown) => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_SIDE;

/**
 * An optional side in pixels, checked by one rule so that each mistake gets one message: @IsInt, @Min and
 * @Max would each complain about an absent side. class-validator has no rule spanning properties, so
 * width's rule also requires a side when `orElse` is absent too.
 */
function IsSide(orElse?: 'height'): PropertyDecorator {
  return ValidateBy({
    name: 'isSide',
    validator: {
      validate: (side, args) =>
        side === undefined ? !orElse || (args?.object as ResizeParams)[orElse] !== undefined : isSide(side),
      defaultMessage: (args) =>
        args?.value === undefined
          ? 'resize needs a width, a height or both'
          : `${args?.property} must be an integer from 1 to ${MAX_SIDE}`,
    },
  });
}

export class ResizeParams {
  @IsSide('height')
  width?: number;

  @IsSide()
  height?: number;

  @IsOptional()
  @IsIn(FITS)
  fit?: (typeof FITS)[number];
}

export const operation: Operation<ResizeParams> = {
  name: 'resize',
  description: `Resizes to a width and/or height (up to ${MAX_SIDE} px); fit is ${FITS.join('|')}, default inside; PNG.`,
  params: ResizeParams,
  run(input, { width, height, fit }, context) {
    // The default is applied here, not in ResizeParams, because jobs store the parameters as given;
    // `??` also covers the JSON null that @IsOptional lets through.
    return encodePng(input.resize({ width, height, fit: fit ?? 'inside' }), context);
  },
};
