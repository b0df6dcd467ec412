import { NestExpressApplication } from '@nestjs/platform-express';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api, createTestApp } from './utils/test-app';

describe('API docs', () => {
  let app: NestExpressApplication;

  beforeAll(async () => {
    app = await createTestApp();
  });

  afterAll(() => app.close());

  it('documents all 25 routes of the seed, sign-in and the file routes, each with its schemas and bearer auth', async () => {
    const { body: spec } = await api(app).get('/api/docs-json').expect(200);
    const operations = Object.entries(
      spec.paths as Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>,
    )
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    const expected = ['users', 'image_types', 'images', 'job_types', 'jobs'].flatMap((resource) => [
      `GET /api/${resource}`,
      `POST /api/${resource}`,
      `GET /api/${resource}/{id}`,
      `PUT /api/${resource}/{id}`,
      `DELETE /api/${resource}/{id}`,
    ]);
    const files = [
      'PUT /api/images/{id}/file',
      'GET /api/images/{id}/file',
      'POST /api/images/{id}/upload_url',
      'GET /api/jobs/{id}/download',
      'POST /api/jobs/{id}/cancel',
      'POST /api/jobs/{id}/retry',
    ];
    const injector = ['POST /api/jobs/inject', 'POST /api/jobs/batch'];
    const health = ['GET /api/health', 'GET /api/health/ready', 'GET /metrics'];
    const sessions = [
      'POST /api/sessions',
      'GET /api/sessions',
      'DELETE /api/sessions/current',
      'DELETE /api/sessions/{id}',
      'DELETE /api/users/{id}/sessions',
      'GET /api/users/me',
    ];
    const events = ['GET /api/jobs/events', 'POST /api/jobs/events_token', 'GET /api/jobs/{id}/events', 'POST /api/jobs/{id}/events_token'];
    const webhooks = ['POST /api/users/{id}/webhook_secret', 'GET /api/jobs/{id}/deliveries'];
    const queues = ['GET /api/queues', 'POST /api/queues/{name}/pause', 'POST /api/queues/{name}/resume'];
    const presets = [
      'GET /api/presets',
      'POST /api/presets',
      'GET /api/presets/{name}',
      'PUT /api/presets/{name}',
      'DELETE /api/presets/{name}',
      'GET /api/images/{id}/derivatives/{preset}',
    ];
    const uploads = [
      'POST /api/uploads',
      'OPTIONS /api/uploads',
      'HEAD /api/uploads/{id}',
      'PATCH /api/uploads/{id}',
      'DELETE /api/uploads/{id}',
    ];
    const signedUrls = [
      'POST /api/images/{id}/derivatives/{preset}/url',
      'POST /api/images/{id}/derivatives/url',
      'GET /r/{signature}/{preset}/{id}',
    ];
    const sync = ['GET /api/sync'];
    expect(operations).toEqual(
      [
        ...expected,
        ...sessions,
        ...files,
        ...events,
        ...injector,
        ...health,
        ...webhooks,
        ...queues,
        ...presets,
        ...signedUrls,
        ...sync,
        ...uploads,
      ].sort(),
    );
    expect(spec.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque token' });
    // Swagger UI shows bearerFormat beside the scheme: the tokens are opaque, not JWTs.
    expect(spec.components.securitySchemes.bearer.description).toMatch(/authentication_token.*ADMIN_TOKEN/);
    expect(spec.paths['/api/images/{id}'].get.security).toEqual([{ bearer: [] }]);
    expect(spec.paths['/api/images/{id}'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ImageResponseDto',
    });
    expect(spec.paths['/api/jobs'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CreateJobDto',
    });
    // A batch takes job bodies as POST /api/jobs does, and answers one outcome per body.
    expect(spec.components.schemas.CreateJobBatchDto.properties.jobs).toMatchObject({
      type: 'array',
      maxItems: 1000,
      items: { $ref: '#/components/schemas/CreateJobDto' },
    });
    expect(spec.paths['/api/jobs/batch'].post.responses['200'].content['application/json'].schema).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/JobBatchItemDto' },
    });
    expect(spec.components.schemas.JobBatchItemDto.properties.job.allOf).toEqual([{ $ref: '#/components/schemas/JobResponseDto' }]);
    expect(spec.components.schemas.JobResponseDto.properties.lane).toMatchObject({ type: 'string', enum: ['interactive', 'bulk'] });
    // Only GET of one job says where a queued job stands.
    expect(spec.paths['/api/jobs/{id}'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/JobDetailResponseDto',
    });
    expect(spec.components.schemas.JobDetailResponseDto.properties.ahead).toMatchObject({ type: 'number', nullable: true });
    expect(spec.components.schemas.JobDetailResponseDto.properties.estimated_start_at).toMatchObject({
      format: 'date-time',
      nullable: true,
    });
    expect(Object.keys(spec.components.schemas.UserResponseDto.properties)).not.toContain('authentication_token');
    // Public routes say they take no credentials (an empty requirement), as generators and linters expect.
    const publicOperations = Object.entries(spec.paths as Record<string, Record<string, { security: unknown[] }>>)
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation.security] as const),
      )
      .filter(([, security]) => security.length === 0)
      .map(([operation]) => operation);
    expect(publicOperations.sort()).toEqual(
      [
        'POST /api/users',
        'POST /api/sessions',
        'GET /api/health',
        'GET /api/health/ready',
        'GET /metrics',
        'GET /r/{signature}/{preset}/{id}',
      ].sort(),
    );
    expect(spec.paths['/api/users'].get.security).toEqual([{ bearer: [] }]);
    expect(spec.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    // Idempotency-Key on the authenticated POSTs; not on sign-up, nor where the answer holds a secret, nor on PUT.
    const keyed = (operation: { parameters?: { name: string; in: string }[] }) =>
      (operation.parameters ?? []).some((parameter) => parameter.name === 'Idempotency-Key' && parameter.in === 'header');
    expect(keyed(spec.paths['/api/jobs'].post)).toBe(true);
    expect(keyed(spec.paths['/api/images'].post)).toBe(true);
    expect(keyed(spec.paths['/api/jobs/{id}/cancel'].post)).toBe(true);
    expect(keyed(spec.paths['/api/users'].post)).toBe(false);
    expect(keyed(spec.paths['/api/sessions'].post)).toBe(false);
    expect(keyed(spec.paths['/api/users/{id}/webhook_secret'].post)).toBe(false);
    expect(keyed(spec.paths['/api/jobs/events_token'].post)).toBe(false);
    expect(keyed(spec.paths['/api/jobs/{id}'].put)).toBe(false);
    expect(spec.paths['/api/jobs'].post.responses['201'].headers['Idempotent-Replayed'].schema).toEqual({ type: 'string', enum: ['true'] });
    expect(spec.paths['/api/jobs'].post.responses['409'].description).toMatch(/Idempotency-Key is still in progress/);
    expect(spec.paths['/api/jobs'].post.responses['422'].description).toMatch(/^Invalid, missing.*Or: The Idempotency-Key is malformed/);
    expect(Object.keys(spec.paths['/api/health/ready'].get.responses)).toEqual(['200', '503']);
    expect(spec.paths['/api/images'].get.responses['401'].content['application/json'].example.error).toBe('Invalid bearer token');
    // The seeded presets are named where admins and app developers look for them.
    expect(spec.paths['/api/presets'].get.description).toMatch(/thumb_256.*medium_1024.*square_512/);
    const derivative = spec.paths['/api/images/{id}/derivatives/{preset}'].get;
    expect(derivative.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(derivative.responses).sort()).toEqual([
      '200',
      '202',
      '206',
      '304',
      '401',
      '404',
      '409',
      '413',
      '416',
      '422',
      '429',
      '502',
      '503',
    ]);
    expect(derivative.responses['202'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/DerivativePendingDto' });
  });

  it('serves the document committed as openapi.json, from which the client is generated (npm run openapi writes it)', async () => {
    const { body: served } = await api(app).get('/api/docs-json').expect(200);
    const committed = JSON.parse(await readFile(join(__dirname, '..', 'openapi.json'), 'utf8'));
    expect(served).toEqual(committed);
  });

  it('serves the Swagger UI at /api/docs', async () => {
    const response = await api(app).get('/api/docs').redirects(1).expect(200);
    expect(response.text).toContain('swagger-ui');
  });
});
