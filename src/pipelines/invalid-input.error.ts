import type { ValidationError } from 'class-validator';

export interface ErrorDetail {
  field: string;
  message: string;
}

/**
 * Input that breaks a rule of the domain: the API answers it with a 422 naming each field. It is
 * not an HTTP exception, so the job rules in src/pipelines can throw it in the worker too.
 */
export class InvalidInputError extends Error {
  constructor(readonly details: ErrorDetail[]) {
    super(summaryOf(details));
    this.name = 'InvalidInputError';
  }
}

/** One fault reads as its own message; several name their fields. */
function summaryOf(details: ErrorDetail[]): string {
  if (details.length === 1) return details[0].message;
  const fields = [...new Set(details.map((d) => d.field))];
  return `Invalid value${fields.length > 1 ? 's' : ''} for ${fields.join(', ')}`;
}

export function invalidFields(details: ErrorDetail[]): InvalidInputError {
  return new InvalidInputError(details);
}

export function invalidField(field: string, message: string): InvalidInputError {
  return invalidFields([{ field, message }]);
}

/** Flattens class-validator's tree of errors into one detail per broken constraint. */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...validationDetails(error.children ?? [], field)];
  });
}
