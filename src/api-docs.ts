import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { documentIdempotencyKeys } from './idempotency/idempotency-api-docs';

/**
 * The API's OpenAPI document, as served at /api/docs-json and committed as openapi.json (npm run
 * openapi), from which clients/ are generated.
 */
export function createApiDocument(app: INestApplication): OpenAPIObject {
  const options = new DocumentBuilder()
    .setTitle('Darkroom')
    .setDescription(
      'Image-processing job server. Every route also answers with a `.json` suffix, as in the seed ' +
        '(`/api/users.json`, `/api/users/7.json`). Sign up with `POST /api/users`, then press ' +
        '"Authorize" and paste the `authentication_token` (or the server\'s ADMIN_TOKEN).',
    )
    .setVersion('0.1.0')
    .setLicense('MIT', 'https://opensource.org/license/mit')
    // Relative: the document describes whichever server serves it, and clients take their own base URL.
    .addServer('/', 'The server this document is served by')
    // Nest labels a bearer scheme "JWT" unless told otherwise; these tokens are random strings.
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'opaque token',
      description:
        'The `authentication_token` that sign-up (POST /api/users) and sign-in (POST /api/sessions) answer with, ' +
        "or the server's ADMIN_TOKEN: an opaque random string, not a JWT.",
    })
    .build();
  // Before public routes get their empty requirement: the Idempotency-Key is for authenticated routes.
  const document = documentIdempotencyKeys(SwaggerModule.createDocument(app, options));
  // Every route that needs a token says so (@ApiBearerAuth): the others are the @Public() ones, and
  // an empty requirement tells generators and linters that they take no credentials at all.
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path)) {
      if (typeof operation === 'object' && operation !== null && 'responses' in operation) operation.security ??= [];
    }
  }
  return document;
}
