import { NestExpressApplication } from '@nestjs/platform-express';
import { createUser, TestUser } from './utils/factories';
import { api, bearer, createTestApp, testEnv } from './utils/test-app';

const ALLOWED = 'https://app.example.com';
const OTHER = 'https://evil.example.net';

describe('the usual protections', () => {
  let app: NestExpressApplication;
  let user: TestUser;

  beforeAll(async () => {
    app = await createTestApp(testEnv({ CORS_ORIGINS: `${ALLOWED}, http://localhost:5173/` }));
    user = await createUser(app);
  });

  afterAll(() => app.close());

  describe('security headers (helmet)', () => {
    it('are on every answer: success, error and docs', async () => {
      const answers = [
        await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200),
        await api(app).get('/api/users.json').expect(401),
        await api(app).get('/api/nothing-here').set(bearer(user.token)).expect(404),
        await api(app).get('/api/docs').expect(200),
      ];
      for (const answer of answers) {
        expect(answer.headers).toMatchObject({
          'x-content-type-options': 'nosniff',
          'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
          'x-frame-options': 'SAMEORIGIN',
          'referrer-policy': 'no-referrer',
          'cross-origin-opener-policy': 'same-origin',
          'content-security-policy': expect.stringContaining("default-src 'self'"),
        });
        expect(answer.headers['x-powered-by']).toBeUndefined();
      }
    });

    it("keep the Swagger UI working: its scripts are this origin's files, which the CSP allows", async () => {
      const page = await api(app).get('/api/docs').expect(200).expect('Content-Type', /html/);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toMatch(/style-src 'self' https: 'unsafe-inline'/);
      expect(csp).not.toContain('upgrade-insecure-requests');
      const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        // No inline script, which script-src 'self' would block: each one is a file of the docs.
        expect(body.trim()).toBe('');
        const src = /src="([^"]+)"/.exec(attributes)?.[1];
        expect(src).toBeDefined();
        expect(src).not.toMatch(/^https?:/);
        await api(app).get(new URL(src!, 'http://host/api/docs/').pathname).expect(200);
      }
      await api(app).get('/api/docs-json').expect(200);
    });
  });

  describe('CORS', () => {
    it('answers a preflight from a listed origin, allowing Authorization, Content-Type, Idempotency-Key and tus’s headers', async () => {
      for (const origin of [ALLOWED, 'http://localhost:5173']) {
        const preflight = await api(app)
          .options('/api/jobs.json')
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'POST')
          .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key')
          .expect(204);
        expect(preflight.headers['access-control-allow-origin']).toBe(origin);
        expect(preflight.headers['access-control-allow-methods']).toContain('POST');
        expect(preflight.headers['access-control-allow-headers']).toBe(
          'Authorization,Content-Type,Idempotency-Key,Tus-Resumable,Upload-Length,Upload-Offset,Upload-Metadata',
        );
        expect(preflight.headers.vary).toMatch(/Origin/);
      }
    });

    it('marks the actual answers to a listed origin, errors included', async () => {
      const ok = await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).set('Origin', ALLOWED).expect(200);
      expect(ok.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(ok.headers['access-control-expose-headers']).toContain('Content-Disposition');
      expect(ok.headers['access-control-expose-headers']).toContain('Idempotent-Replayed');
      const refused = await api(app).get('/api/users.json').set('Origin', ALLOWED).expect(401);
      expect(refused.headers['access-control-allow-origin']).toBe(ALLOWED);
    });

    it('gives no CORS headers to another origin', async () => {
      const preflight = await api(app)
        .options('/api/jobs.json')
        .set('Origin', OTHER)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      // Without Access-Control-Allow-Origin the browser refuses the call (the cors package still
      // lists the allowed headers and methods, which grant nothing on their own).
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      const actual = await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).set('Origin', OTHER).expect(200);
      expect(actual.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('is off without CORS_ORIGINS', async () => {
      const plain = await createTestApp();
      try {
        const preflight = await api(plain).options('/api/jobs.json').set('Origin', ALLOWED).set('Access-Control-Request-Method', 'POST');
        expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
        const actual = await api(plain).get('/api/users.json').set('Origin', ALLOWED).expect(401);
        expect(actual.headers['access-control-allow-origin']).toBeUndefined();
        expect(actual.headers['x-content-type-options']).toBe('nosniff');
      } finally {
        await plain.close();
      }
    });
  });

  describe('request bodies', () => {
    it('refuses a JSON body over 1 MB with 413 in the JSON error shape', async () => {
      const response = await api(app)
        .put(`/api/users/${user.id}.json`)
        .set(bearer(user.token))
        .send({ username: 'x'.repeat(1024 * 1024) })
        .expect(413);
      expect(response.body).toEqual({ error: 'Request body is larger than the 1048576-byte limit', details: [] });
    });

    it('reads a JSON body under 1 MB (here to refuse its field, not its size)', async () => {
      const response = await api(app)
        .put(`/api/users/${user.id}.json`)
        .set(bearer(user.token))
        .send({ username: 'x'.repeat(900 * 1024) })
        .expect(422);
      expect(response.body.details[0].field).toBe('username');
    });
  });
});
