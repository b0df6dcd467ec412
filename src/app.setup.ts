import { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import type { Express, Request, Response } from 'express';
import type pino from 'pino';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { SESSION_COOKIE_PATH } from './auth/cookie-session';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { ApiValidationPipe } from './common/api-validation.pipe';
import { AppConfig } from './config/app-config';
import { weakEtag } from './common/etag';
import { requireJsonBody } from './common/json-body.middleware';
import { useJsonBodyLimit, useProtections } from './common/protections';
import { stripJsonSuffix } from './common/json-suffix.middleware';
import { requestLogging } from './common/request-log.middleware';
import { ShutdownDrain } from './health/shutdown-drain';
import { HttpMetrics } from './metrics/http-metrics';
import { documentIdempotencyKeys } from './idempotency/idempotency-api-docs';

/**
 * Everything about the HTTP app that main.ts and the end-to-end tests must share. Given a logger,
 * each request is logged once it is answered.
 */
export function configureApp(app: NestExpressApplication, requestLogger?: pino.Logger): void {
  app.disable('x-powered-by');
  app.set('etag', weakEtag);
  app.use(app.get(ShutdownDrain).middleware());
  app.use(app.get(HttpMetrics).middleware());
  app.use(requestLogging(requestLogger));
  useProtections(app, app.get(AppConfig));
  // Which proxies' X-Forwarded-For to believe: request.ip, and so the per-IP rate limit, follows it.
  app.set('trust proxy', app.get(AppConfig).TRUST_PROXY);
  app.use(stripJsonSuffix);
  // Only where the session cookie is sent: the API itself never reads cookies.
  app.use(SESSION_COOKIE_PATH, cookieParser());
  // Registered before Nest adds its body parsers, so a body of the wrong type is never parsed.
  app.use(requireJsonBody);
  useJsonBodyLimit(app);
  app.useGlobalFilters(new ApiExceptionFilter());
  app.useGlobalPipes(new ApiValidationPipe());
  setUpApiDocs(app);
}

function setUpApiDocs(app: NestExpressApplication): void {
  const options = new DocumentBuilder()
    .setTitle('Darkroom')
    .setDescription(
      'Image-processing job server. Every route also answers with a `.json` suffix, as in the seed ' +
        '(`/api/users.json`, `/api/users/7.json`). Sign up with `POST /api/users`, then press ' +
        '"Authorize" and paste the `authentication_token` (or the server\'s ADMIN_TOKEN).',
    )
    .setVersion('0.1.0')
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
  // Built on the first request for the docs rather than at every start, which it slowed by a few tenths of a second.
  SwaggerModule.setup('api/docs', app, () => documentIdempotencyKeys(SwaggerModule.createDocument(app, options)), {
    jsonDocumentUrl: 'api/docs-json',
    customSiteTitle: 'Darkroom API',
    swaggerOptions: { persistAuthorization: true },
  });
  // The address the start prints: where to go from here, rather than a 404.
  (app.getHttpAdapter().getInstance() as Express).get('/api', (_request: Request, response: Response) => void response.json(API_INDEX));
}

/** `GET /api`: the API's pages, relative to this server. */
const API_INDEX = {
  name: 'Darkroom',
  docs: '/api/docs',
  openapi: '/api/docs-json',
  dashboard: '/admin/queues',
  health: '/api/health',
  metrics: '/metrics',
  resources: ['/api/users', '/api/sessions', '/api/images', '/api/image_types', '/api/jobs', '/api/job_types'],
};
