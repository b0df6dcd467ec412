import { NestExpressApplication } from '@nestjs/platform-express';
import { AddressInfo } from 'node:net';
import { createImage, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { api, bearer, createTestApp } from './utils/test-app';

const JSON_WANTED = 'Send the body as JSON with Content-Type: application/json';

/** A body that is JSON in all but its declared type: `curl -d '{…}'` sends it as a form. */
describe('request bodies sent as something other than JSON', () => {
  let app: NestExpressApplication;
  let user: TestUser;
  let baseUrl: string;

  beforeAll(async () => {
    app = await createTestApp();
    user = await createUser(app);
    const server = app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => app.close());

  /** Sends exactly these headers and bytes, which supertest would otherwise fill in. */
  const raw = (method: string, path: string, body: string, headers: Record<string, string>) =>
    fetch(`${baseUrl}${path}`, { method, body: Buffer.from(body), headers: { ...bearer(user.token), ...headers } });

  it.each([
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['text/plain', 'text/plain'],
    ['text/plain; charset=utf-8', 'text/plain; charset=utf-8'],
    ['application/xml', 'application/xml'],
    ['application/octet-stream', 'application/octet-stream'],
  ])('answers %s with 415 naming the type expected and the type sent', async (type, shown) => {
    const response = await raw('POST', '/api/jobs.json', '{"image_id": 1, "job_type": "grayscale"}', { 'Content-Type': type });
    expect(response.status).toBe(415);
    expect(await response.json()).toEqual({ error: `${JSON_WANTED} (got ${shown})`, details: [] });
  });

  it('answers a body without any Content-Type with 415', async () => {
    const response = await raw('POST', '/api/jobs', '{"image_id": 1}', {});
    expect(response.status).toBe(415);
    expect(await response.json()).toEqual({ error: `${JSON_WANTED} (got no Content-Type)`, details: [] });
  });

  it('refuses the form on every JSON route: sign-up, sign-in, updates, types, images', async () => {
    const image = await createImage(app, user);
    const routes: [string, string][] = [
      ['POST', '/api/users.json'],
      ['POST', '/api/sessions.json'],
      ['PUT', `/api/users/${user.id}.json`],
      ['POST', '/api/image_types.json'],
      ['PUT', `/api/images/${image.id}.json`],
      ['POST', `/api/images/${image.id}/upload_url`],
      ['POST', '/api/job_types'],
    ];
    for (const [method, path] of routes) {
      const response = await raw(method, path, '{"username": "x"}', { 'Content-Type': 'application/x-www-form-urlencoded' });
      expect([method, path, response.status]).toEqual([method, path, 415]);
    }
    // Nothing was changed by the refused update.
    const me = await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200);
    expect(me.body.username).toBe(user.username);
  });

  it('says that POST /api/images also takes a multipart upload', async () => {
    const response = await raw('POST', '/api/images.json', '{}', { 'Content-Type': 'text/plain' });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: string }).error).toBe(`${JSON_WANTED}, or as multipart/form-data (got text/plain)`);
  });

  it('still takes JSON, with or without a charset, and body-less control requests', async () => {
    const image = await createStoredImage(app, user);
    const job = await raw('POST', '/api/jobs.json', JSON.stringify({ image_id: image.id, job_type: 'grayscale' }), {
      'Content-Type': 'application/json; charset=utf-8',
    });
    expect(job.status).toBe(201);
    const { id } = (await job.json()) as { id: number };
    const cancel = await fetch(`${baseUrl}/api/jobs/${id}/cancel`, { method: 'POST', headers: bearer(user.token) });
    expect(cancel.status).toBe(200);
    const empty = await raw('POST', `/api/jobs/${id}/retry`, '', { 'Content-Type': 'text/plain' });
    expect(empty.status).toBe(200);
  });

  it('still takes a multipart upload on POST /api/images and raw bytes on PUT /api/images/:id/file', async () => {
    const uploaded = await api(app)
      .post('/api/images.json')
      .set(bearer(user.token))
      .attach('file', fixture('coffee.png'), 'coffee.png')
      .expect(201);
    expect(uploaded.body).toMatchObject({ status: 'original stored', format: 'png' });
    const image = await createImage(app, user);
    const stored = await api(app)
      .put(`/api/images/${image.id}/file`)
      .set(bearer(user.token))
      .set('Content-Type', 'image/png')
      .send(fixture('coffee.png'))
      .expect(200);
    expect(stored.body).toMatchObject({ status: 'original stored', format: 'png' });
    // The file route keeps its own answer to a body that is not an image.
    const text = await raw('PUT', `/api/images/${image.id}/file`, 'hello', { 'Content-Type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(((await text.json()) as { error: string }).error).toMatch(/image\/<format>/);
  });
});
