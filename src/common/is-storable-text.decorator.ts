import { ValidateBy, ValidationOptions } from 'class-validator';

/** Half of a surrogate pair: JSON can carry one, PostgreSQL's text and jsonb cannot store it (nor a NUL). */
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableText(value: unknown): boolean {
  return typeof value !== 'string' || (!value.includes('\u0000') && !UNPAIRED_SURROGATE.test(value));
}

/**
 * A string PostgreSQL can store and compare: without it, a `\u0000` in a free-text field would
 * reach the database and fail there. Only for fields no pattern already restricts; anything not
 * a string is left to the field's other checks.
 */
export function IsStorableText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStorableText',
      validator: {
        validate: (value: unknown) => isStorableText(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must be text without NUL characters (\\u0000) or unpaired surrogates`,
      },
    },
    options,
  );
}
