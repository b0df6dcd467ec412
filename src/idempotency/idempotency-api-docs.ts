import type { OpenAPIObject } from '@nestjs/swagger';
import { IGNORED_EXTENSION } from './idempotency-key-ignored.decorator';
import { IDEMPOTENCY_KEY_HEADER, KEYED_METHODS, MAX_KEY_LENGTH, REPLAYED_HEADER } from './idempotency-key';

// @nestjs/swagger exports the document's type, not its parts'.
type OperationObject = NonNullable<OpenAPIObject['paths'][string]['post']>;
type ParameterObject = Exclude<NonNullable<OperationObject['parameters']>[number], { $ref: string }>;
type ResponseObject = Exclude<OperationObject['responses'][string], { $ref: string } | undefined>;

const ERROR_SCHEMA = { $ref: '#/components/schemas/ErrorResponseDto' };

/**
 * Adds the Idempotency-Key header, its 409 and 422, and the Idempotent-Replayed answer header to
 * every POST and PATCH of the API that honours it: authenticated, and not marked
 * @IdempotencyKeyIgnored. Done on the whole document rather than route by route, so that a new
 * route is documented as the interceptor treats it.
 */
export function documentIdempotencyKeys(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/api/')) continue;
    for (const [method, operation] of Object.entries(item) as [string, OperationObject & Record<string, unknown>][]) {
      if (!KEYED_METHODS.has(method.toUpperCase()) || !operation.security || operation[IGNORED_EXTENSION]) continue;
      operation.parameters = [...(operation.parameters ?? []), HEADER_PARAMETER];
      for (const [status, response] of Object.entries(operation.responses as Record<string, ResponseObject>)) {
        if (status.startsWith('2')) response.headers = { ...response.headers, [REPLAYED_HEADER]: REPLAYED_HEADER_DOC };
      }
      const responses = operation.responses as Record<string, ResponseObject | undefined>;
      responses['409'] = withCause(responses['409'], IN_FLIGHT);
      responses['422'] = withCause(responses['422'], REUSED);
    }
  }
  return document;
}

const HEADER_PARAMETER: ParameterObject = {
  name: IDEMPOTENCY_KEY_HEADER,
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: a request repeated with the same key and the same method, path and body is answered as the first ' +
    'one was (status, body, Location), with `Idempotent-Replayed: true`, and its work is not done again. Keys are yours ' +
    'alone and kept for IDEMPOTENCY_TTL (24 h by default). 1 to 255 printable ASCII characters; a UUID per operation is best.',
  schema: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH },
  example: '6f1c0a52-0b0e-4c8e-9a54-3c9b1d0e2f77',
};

const REPLAYED_HEADER_DOC = {
  description: 'Present, `true`, when this is the stored answer to an earlier request with the same Idempotency-Key.',
  schema: { type: 'string', enum: ['true'] },
};

const IN_FLIGHT = {
  description: 'A request with the same Idempotency-Key is still in progress; retry after `Retry-After` seconds.',
  example: { error: 'A request with this Idempotency-Key is still in progress: retry it once that one has been answered', details: [] },
};

const REUSED = {
  description: 'The Idempotency-Key is malformed, or was used for a different request.',
  example: {
    error: 'This Idempotency-Key was used for a different request (method, path or body): use a new key for a new request',
    details: [
      {
        field: IDEMPOTENCY_KEY_HEADER,
        message: 'This Idempotency-Key was used for a different request (method, path or body): use a new key for a new request',
      },
    ],
  },
};

/** A response the route documents already keeps its own example; its description names the key's case too. */
function withCause(existing: ResponseObject | undefined, cause: { description: string; example: unknown }): ResponseObject {
  if (existing) return { ...existing, description: `${existing.description} Or: ${cause.description}` };
  return { description: cause.description, content: { 'application/json': { schema: ERROR_SCHEMA, example: cause.example } } };
}
