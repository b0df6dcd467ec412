import { HttpStatus } from '@nestjs/common';
import { type ErrorDetail, invalidField } from '../pipelines/invalid-input.error';

export type { ErrorDetail } from '../pipelines/invalid-input.error';
export { invalidField, invalidFields } from '../pipelines/invalid-input.error';

/** The body of every error response. */
export interface ErrorBody {
  error: string;
  details: ErrorDetail[];
}

export const VALIDATION_STATUS = HttpStatus.UNPROCESSABLE_ENTITY;

/** The seed's update bodies repeat the record's id; one that differs from the URL's is refused. */
export function assertBodyIdMatches(bodyId: number | undefined, urlId: number): void {
  if (bodyId !== undefined && bodyId !== urlId) throw invalidField('id', `id ${bodyId} does not match the URL's id ${urlId}`);
}
