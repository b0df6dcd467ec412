import { IsIn, IsOptional, ValidateBy } from 'class-validator';
import { encodePng } from './encode';
import type { Operation } from './operation';

const MAX_SIDE = 10_000;
const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;

/**
 * An optional side in pixels. Width carries the rule that one of the two sides must be given: class-validator
 * has no rule spanning properties, and @IsInt would add its own complaint about the missing side.
 */
function IsSide(requiredUnlessGiven?: 'height'): PropertyDecorator {
  return ValidateBy({
    name: 'isSide',
    validator: {
      validate: (side, args) =>
        side === undefined
          ? requiredUnlessGiven === undefined || (args?.object as ResizeParams)[requiredUnlessGiven] !== undefined
          : Number.isInteger(side) && (side as number) >= 1 && (side as number) <= MAX_SIDE,
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
  run(input, { width, height, fit = 'inside' }, context) {
    return encodePng(input.resize({ width, height, fit }), context);
  },
};
