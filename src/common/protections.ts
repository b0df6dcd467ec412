import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import type { AppConfig } from '../config/app-config';

/** The largest JSON body accepted (413 past it); uploads have their own limit, MAX_UPLOAD_BYTES. */
export const JSON_BODY_LIMIT = 1024 * 1024;

/** Headers that browser clients may read from a cross-origin answer. */
const EXPOSED_HEADERS = ['Content-Disposition', 'ETag', 'Retry-After'];

/**
 * Security headers on every answer (helmet's defaults), and CORS for the origins CORS_ORIGINS
 * lists (none by default: no CORS headers at all), allowing the Authorization and Content-Type
 * request headers. helmet's Content-Security-Policy lets the Swagger UI at /api/docs run as it
 * is: its scripts are files of this origin and its inline styles are allowed by the default
 * style-src. Only upgrade-insecure-requests is left out: it would send the docs' own requests to
 * https:// on a server that answers plain http (a laptop, a LAN). Registered first, so that every
 * answer, errors included, carries the headers.
 */
export function useProtections(app: NestExpressApplication, config: AppConfig): void {
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  if (config.CORS_ORIGINS.length > 0) {
    app.enableCors({
      origin: config.CORS_ORIGINS,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });
  }
}

/** JSON bodies up to JSON_BODY_LIMIT. Nest adds no JSON parser of its own once one is in place. */
export function useJsonBodyLimit(app: NestExpressApplication): void {
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT });
}
