import { NestExpressApplication } from '@nestjs/platform-express';
import { createUser, TestUser } from './utils/factories';
import { api, bearer, createTestApp } from './utils/test-app';

const RESOURCES = ['users', 'image_types', 'images', 'job_types', 'jobs'];

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
    it('answers 401 without credentials, with a bad token and with a malformed header', async () => {
      for (const headers of [{}, bearer('not-a-real-token'), { Authorization: 'Basic dXNlcjpwYXNz' }]) {
        const response = await api(app).get(`/api/${resource}.json`).set(headers).expect(401);
        expectErrorBody(response.body);
      }
    });

    it.each(['abc', '0', '-1', '1.5', '99999999999', '1e3'])('answers 404 for the id %s', async (id) => {
      for (const method of ['get', 'put', 'delete'] as const) {
        const response = await api(app)[method](`/api/${resource}/${id}.json`).set(bearer(user.token)).send({}).expect(404);
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
        .set(bearer(user.token))
        .set('Content-Type', 'application/json')
        .send('{"broken": ')
        .expect(400);
      expectErrorBody(malformed.body);
      const notObject = await api(app)
        .post(`/api/${resource}.json`)
        .set(bearer(user.token))
        .set('Content-Type', 'application/json')
        .send('[1, 2]')
        .expect(422);
      expectErrorBody(notObject.body);
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
