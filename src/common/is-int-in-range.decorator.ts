import { ValidateBy, ValidationOptions } from 'class-validator';

/** Ids are PostgreSQL `integer`s: from 1 to 2^31 - 1. */
export const MAX_ID = 2_147_483_647;

export function isIntInRange(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * The one message for a field that must be an integer from `min` to `max`: a value that is not an
 * integer at all (a string, a fraction, a boolean) is told so, and an integer out of range is told
 * the range.
 */
export function intInRangeMessage(field: string, value: unknown, min: number, max: number): string {
  return typeof value === 'number' && Number.isInteger(value)
    ? `${field} must be an integer from ${min} to ${max}`
    : `${field} must be an integer`;
}

/**
 * An integer from `min` to `max`, checked as one constraint so that a wrong value gets exactly one
 * message (stacking `@IsInt() @Min() @Max()` answers `"1"` with three contradictory ones).
 */
export function IsIntInRange(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIntInRange',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) => isIntInRange(value, min, max),
        defaultMessage: (args) => intInRangeMessage(args?.property ?? 'value', args?.value, min, max),
      },
    },
    options,
  );
}

/** The id of a record: an integer from 1 to MAX_ID. */
export function IsId(options?: ValidationOptions): PropertyDecorator {
  return IsIntInRange(1, MAX_ID, options);
}
