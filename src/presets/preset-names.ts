import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayUnique, IsArray, IsOptional, Matches } from 'class-validator';
import { STEP_PATTERN } from '../pipelines/job-sequence';

/** Presets one upload or image type may name: each is a job made at once. */
export const MAX_EAGER_PRESETS = 8;

/**
 * An optional list of preset names, made as soon as an original is stored. A multipart form sends
 * it as one field, comma-separated (`presets=thumb_256,medium_1024`); JSON as an array.
 */
export function IsPresetNames(description: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ type: [String], maxItems: MAX_EAGER_PRESETS, example: ['thumb_256', 'medium_1024'], description }),
    Transform(({ value }) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((name) => name.trim())
            .filter((name) => name !== '')
        : value,
    ),
    IsOptional(),
    IsArray({ message: '$property must be a list of preset names' }),
    ArrayMaxSize(MAX_EAGER_PRESETS, { message: `$property may name at most ${MAX_EAGER_PRESETS} presets` }),
    ArrayUnique({ message: '$property names a preset twice' }),
    Matches(STEP_PATTERN, { each: true, message: '$property must name presets (lower-case letters, digits and "_")' }),
  );
}
