import { IsIn, IsInt, IsNumber, IsOptional, Max, Min, ValidateBy } from 'class-validator';
import { OWN_ABSENCE_MESSAGE } from './invalid-input.error';

/*
 * The parameters of the operations that take some, as class-validator DTO classes, and the limits
 * and defaults the operations' descriptions promise. Jobs store parameters as given, so defaults
 * are applied by the operations when they run, not here.
 */

export const BLUR_DEFAULT_SIGMA = 2;

export class BlurParams {
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.3)
  @Max(1000)
  sigma?: number;
}

export const CONVERT_FORMATS = ['png', 'jpeg', 'webp', 'avif'] as const;

export class ConvertParams {
  @IsIn(CONVERT_FORMATS)
  format: (typeof CONVERT_FORMATS)[number];

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  quality?: number;
}

export const RESIZE_MAX_SIDE = 10_000;
export const RESIZE_FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export const RESIZE_DEFAULT_FIT = 'inside' satisfies (typeof RESIZE_FITS)[number];

const isSide = (value: unknown) => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= RESIZE_MAX_SIDE;

/**
 * An optional side in pixels, checked by one rule so that each mistake gets one message: @IsInt, @Min and
 * @Max would each complain about an absent side. class-validator has no rule spanning properties, so
 * width's rule also requires a side when `orElse` is absent too.
 */
function IsSide(orElse?: 'height'): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isSide',
      validator: {
        validate: (side, args) => (side === undefined ? !orElse || (args?.object as ResizeParams)[orElse] !== undefined : isSide(side)),
        defaultMessage: (args) =>
          args?.value === undefined
            ? 'resize needs a width, a height or both'
            : `${args?.property} must be an integer from 1 to ${RESIZE_MAX_SIDE}`,
      },
    },
    OWN_ABSENCE_MESSAGE,
  );
}

export class ResizeParams {
  @IsSide('height')
  width?: number;

  @IsSide()
  height?: number;

  @IsOptional()
  @IsIn(RESIZE_FITS)
  fit?: (typeof RESIZE_FITS)[number];
}

export class RotateParams {
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-360)
  @Max(360)
  angle: number;
}

export class SharpenParams {
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.000001)
  @Max(10)
  sigma?: number;
}

export class ThresholdParams {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(255)
  level?: number;
}

export const THUMBNAIL_SIDE = 256;
