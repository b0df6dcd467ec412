import { NestExpressApplication } from '@nestjs/platform-express';
import { createUser, TestUser } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp } from './utils/test-app';

const RESOURCES = ['users', 'image_types', 'images', 'job_types', 'jobs'];
/** Resources only admins may write: a non-admin is refused with 403 before anything else is checked. */
const ADMIN_WRITTEN = new Set(['image_types', 'job_types']);

describe('errors', () => {
  let app: NestExpressApplication;
  let user: TestUser;

  beforeAll(async () => {
    app = await createTestApp();
    user = await createUser(app);
  });

  afterAll(() => app.close());

  const expectErrorBody = (body: unknown) => expect(body).toEqual({ error: expect.any(String), details: expect.any(Array) });

  describe.each(RESOURCES)('/api/%s', (resource) => {
    const writer = () => (ADMIN_WRITTEN.has(resource) ? ADMIN_TOKEN : user.token);
    it('answers 401 without credentials, with a bad token and with a malformed header', async () => {
      for (const headers of [{}, bearer('not-a-real-token'), { Authorization: 'Basic dXNlcjpwYXNz' }]) {
        const response = await api(app).get(`/api/${resource}.json`).set(headers).expect(401);
        expectErrorBody(response.body);
      }
    });

    it.each(['abc', '0', '-1', '1.5', '99999999999', '1e3'])('answers 404 for the id %s', async (id) => {
      for (const method of ['get', 'put', 'delete'] as const) {
        const token = method === 'get' ? user.token : writer();
        const response = await api(app)[method](`/api/${resource}/${id}.json`).set(bearer(token)).send({}).expect(404);
        expectErrorBody(response.body);
      }
    });

    it('answers 404 for an unknown id', async () => {
      const response = await api(app).get(`/api/${resource}/2147483647`).set(bearer(user.token)).expect(404);
      expect(response.body.error).toMatch(/No .* with id 2147483647/);
    });

    it('answers 400 to a malformed JSON body and 422 to a body that is not an object', async () => {
      const malformed = await api(app)
        .post(`/api/${resource}.json`)
        .set(bearer(writer()))
        .set('Content-Type', 'application/json')
        .send('{"broken": ')
        .expect(400);
      expectErrorBody(malformed.body);
      const notObject = await api(app)
        .post(`/api/${resource}.json`)
        .set(bearer(writer()))
        .set('Content-Type', 'application/json')
        .send('[1, 2]')
        .expect(422);
      expectErrorBody(notObject.body);
    });
  });

  describe('an admin-only write by a non-admin', () => {
    const refused = (action: string) => ({ error: `Only an admin may ${action}`, details: [] });
    const send = (method: 'post' | 'put' | 'delete', path: string, body: unknown) => {
      const call = api(app)[method](path).set(bearer(user.token));
      return typeof body === 'string' ? call.set('Content-Type', 'application/json').send(body) : call.send(body as object);
    };

    it.each([
      ['post', '/api/image_types.json', {}, 'create image types'],
      ['post', '/api/image_types.json', { name: 'x' }, 'create image types'],
      ['post', '/api/image_types.json', { type_name: 5 }, 'create image types'],
      ['post', '/api/image_types.json', '[1, 2]', 'create image types'],
      ['put', '/api/image_types/1.json', { type_name: 'Not Valid!' }, 'change image types'],
      ['put', '/api/image_types/abc.json', {}, 'change image types'],
      ['delete', '/api/image_types/abc.json', {}, 'delete image types'],
      ['post', '/api/job_types.json', { unknown: true }, 'create job types'],
      ['put', '/api/job_types/1.json', {}, 'change job types'],
      ['delete', '/api/job_types/1.json', {}, 'delete job types'],
      ['post', '/api/jobs/inject.json', { job_sequence: 'not a list', bogus: 1 }, 'inject jobs'],
      ['post', '/admin/queues/jobs/abc/retry', {}, 'use the queue dashboard'],
      ['post', '/admin/queues/jobs/abc/cancel', {}, 'use the queue dashboard'],
    ] as const)('%s %s %j: 403 before the body or the id is checked', async (method, path, body, action) => {
      expect((await send(method, path, body).expect(403)).body).toEqual(refused(action));
    });

    it("refuses a user's admin fields with 403 before the rest of the body is checked, and checks the rest when there are none", async () => {
      const path = `/api/users/${user.id}.json`;
      expect((await send('put', path, { admin: true, email: 5, bogus: 1 }).expect(403)).body).toEqual(refused('grant or revoke admin'));
      expect((await send('put', path, { max_storage_bytes: 'lots' }).expect(403)).body).toEqual(refused('change quotas'));
      expect((await send('put', path, { email: 5 }).expect(422)).body.details).toContainEqual({
        field: 'email',
        message: 'email must be an email address',
      });
    });
  });

  it('answers an unknown route with a JSON 404', async () => {
    const response = await api(app).get('/api/nothing-here.json').set(bearer(user.token)).expect(404);
    expectErrorBody(response.body);
  });

  it('answers a body over the 1 MB JSON limit with 413', async () => {
    const response = await api(app)
      .post('/api/users.json')
      .send({ username: 'x'.repeat(1_100_000), email: 'a@b.c', password: 'password123' })
      .expect(413);
    expectErrorBody(response.body);
  });

  it('sends a body of garbage bytes as JSON without a 500', async () => {
    const response = await api(app)
      .post('/api/images.json')
      .set(bearer(user.token))
      .set('Content-Type', 'application/json')
      .send(Buffer.from([0xff, 0xfe, 0x00, 0x7b]));
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });

  it('rejects a string of another type where a number belongs, without a database error', async () => {
    const response = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: 99999999999, job_type: 'grayscale' })
      .expect(422);
    expect(response.body.details[0].field).toBe('image_id');
  });
});
