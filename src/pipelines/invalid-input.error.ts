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

const OWN_ABSENCE = 'ownAbsenceMessage';

/**
 * The validation options of a rule whose message says itself what an absent value lacks (resize's
 * sides: "resize needs a width, a height or both"): for a missing field, validationDetails answers
 * that message alone.
 */
export const OWN_ABSENCE_MESSAGE = { context: { [OWN_ABSENCE]: true } };

/**
 * Flattens class-validator's tree of errors into one detail per broken constraint. A required
 * field that is missing breaks every constraint it has ("must be an email address", "must be
 * shorter than…"), none of which says what is wrong: it gets the one message "email is required"
 * instead. Missing is told from present when the errors record values (BODY_VALIDATION does).
 */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    if ('value' in error && error.value === undefined && error.constraints) {
      const { constraints, contexts } = error;
      const own = Object.keys(constraints).filter((name) => contexts?.[name]?.[OWN_ABSENCE]);
      return own.length ? own.map((name) => ({ field, message: constraints[name] })) : [{ field, message: `${field} is required` }];
    }
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...validationDetails(error.children ?? [], field)];
  });
}
