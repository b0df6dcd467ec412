import { HttpStatus, UnprocessableEntityException } from '@nestjs/common';
import { ValidationError } from 'class-validator';

export interface ErrorDetail {
  field: string;
  message: string;
}

/** The body of every error response. */
export interface ErrorBody {
  error: string;
  details: ErrorDetail[];
}

export function invalidFields(details: ErrorDetail[]): UnprocessableEntityException {
  const fields = [...new Set(details.map((d) => d.field))];
  const error =
    details.length === 1 ? details[0].message : `Invalid value${fields.length > 1 ? 's' : ''} for ${fields.join(', ')}`;
  return new UnprocessableEntityException({ message: error, details });
}

export function invalidField(field: string, message: string): UnprocessableEntityException {
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

export const VALIDATION_STATUS = HttpStatus.UNPROCESSABLE_ENTITY;

/** The seed's update bodies repeat the record's id; one that differs from the URL's is refused. */
export function assertBodyIdMatches(bodyId: number | undefined, urlId: number): void {
  if (bodyId !== undefined && bodyId !== urlId) throw invalidField('id', `id ${bodyId} does not match the URL's id ${urlId}`);
}
