import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import type { AppConfig } from '../config/app-config';

/** The largest JSON body accepted (413 past it); uploads have their own limit, MAX_UPLOAD_BYTES. */
export const JSON_BODY_LIMIT = 1024 * 1024;

/** Headers that browser clients may read from a cross-origin answer (with a resumable upload's, tus's). */
const EXPOSED_HEADERS = [
  'Content-Disposition',
  'ETag',
  'Retry-After',
  'Location',
  'Tus-Resumable',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Expires',
  'Idempotent-Replayed',
];

/** Headers that browser clients may send cross-origin: the bearer token, a body's type, an Idempotency-Key, and tus's for resumable uploads. */
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'Tus-Resumable',
  'Upload-Length',
  'Upload-Offset',
  'Upload-Metadata',
];

/**
 * Security headers on every answer (helmet's defaults), and CORS for the origins CORS_ORIGINS
 * lists (none by default: no CORS headers at all), allowing the Authorization, Content-Type and
 * Idempotency-Key request headers, and tus's (resumable uploads). helmet's Content-Security-Policy lets the Swagger UI at /api/docs run as it
 * is: its scripts are files of this origin and its inline styles are allowed by the default
 * style-src. Only upgrade-insecure-requests is left out: it would send the docs' own requests to
 * https:// on a server that answers plain http (a laptop, a LAN). Registered first, so that every
 * answer, errors included, carries the headers.
 */
export function useProtections(app: NestExpressApplication, config: AppConfig): void {
  const headers = helmetHeaders({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  app.use((_request: Request, response: Response, next: NextFunction) => {
    response.setHeaders(headers);
    next();
  });
  if (config.CORS_ORIGINS.length > 0) {
    app.enableCors({
      origin: config.CORS_ORIGINS,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });
  }
}

/** JSON bodies up to JSON_BODY_LIMIT. Nest adds no JSON parser of its own once one is in place. */
export function useJsonBodyLimit(app: NestExpressApplication): void {
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT });
}

/**
 * The headers helmet sets with these options, asked of it once. With fixed options (no CSP nonce
 * or other function of the request) they are the same on every answer, and one setHeaders of them
 * costs a request a fraction of helmet's chain of a dozen middleware. helmet also removes
 * X-Powered-By, which the app never sends (configureApp disables it).
 */
export function helmetHeaders(options: HelmetOptions): Map<string, string> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  let nextError: unknown = 'not called';
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => (nextError = error));
  if (nextError !== undefined) throw new Error(`helmet did not answer its headers at once: ${String(nextError)}`);
  return headers;
}
