import { ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import type { ValidatorOptions } from 'class-validator';
import { invalidField, invalidFields, validationDetails } from '../pipelines/invalid-input.error';

/**
 * How every body is checked, JSON or a multipart form's fields: unknown fields are refused. Each
 * field answers with one message per fault; numbers use one range constraint (`@IsIntInRange`,
 * `@IsId`) rather than stacked `@IsInt @Min @Max`, which would answer `"1"` three times.
 */
export const BODY_VALIDATION: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  // Values are kept (never answered) so that a missing field is told from a wrong one.
  validationError: { target: false, value: true },
};

/**
 * Validates JSON bodies against their DTO: unknown fields, wrong types and missing fields are a 422
 * naming each. Route parameters and query strings are left to their own pipes (ids, selections),
 * so that `abc` in a URL reaches them as written instead of as a coerced NaN.
 */
@Injectable()
export class ApiValidationPipe extends ValidationPipe {
  constructor() {
    super({
      ...BODY_VALIDATION,
      transform: true,
      exceptionFactory: (errors) => invalidFields(validationDetails(errors)),
    });
  }

  async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body') return value;
    // No JSON parser ran (no body, or a multipart one): there are no JSON fields to check.
    if (value === undefined) return super.transform({}, metadata);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalidField('body', 'The body must be a JSON object');
    }
    return super.transform(value, metadata);
  }
}

const itemPipe = new ApiValidationPipe();

/**
 * Checks one JSON value as the body of a route taking `metatype` would be checked (a batch's
 * items): the DTO, or the InvalidInputError that route would have answered with.
 */
export async function validateBody<T extends object>(metatype: new () => T, value: unknown): Promise<T> {
  return (await itemPipe.transform(value, { type: 'body', metatype, data: undefined })) as T;
}
