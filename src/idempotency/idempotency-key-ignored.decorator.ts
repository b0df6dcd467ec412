import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const IDEMPOTENCY_KEY_IGNORED = 'darkroom:idempotency-key-ignored';

/** The OpenAPI extension that tells the docs' transform to leave the Idempotency-Key header off this route. */
export const IGNORED_EXTENSION = 'x-idempotency-key-ignored';

/**
 * A POST or PATCH whose Idempotency-Key header is ignored: its answer holds a secret that is never
 * stored in the clear (a bearer token, a webhook secret, a short-lived access token), so it cannot
 * be replayed, or its protocol has retries of its own (tus). `reason` is shown in the API docs.
 */
export function IdempotencyKeyIgnored(reason: string): MethodDecorator {
  return applyDecorators(SetMetadata(IDEMPOTENCY_KEY_IGNORED, true), ApiExtension(IGNORED_EXTENSION, reason));
}
