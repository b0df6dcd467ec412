import { NestExpressApplication } from '@nestjs/platform-express';
import { createImage, createJob, createImageType, createStoredImage, createUser, fixture, TestUser, unique } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp } from './utils/test-app';

const MAX_ID = 2147483647;
const NOT_AN_INTEGER = (field: string) => ({
  error: `${field} must be an integer`,
  details: [{ field, message: `${field} must be an integer` }],
});
const OUT_OF_RANGE = (field: string, min: number, max: number) => {
  const message = `${field} must be an integer from ${min} to ${max}`;
  return { error: message, details: [{ field, message }] };
};

/** One clear message per wrong field; filters that name nothing are refused, not answered with []. */
describe('field messages', () => {
  let app: NestExpressApplication;
  let user: TestUser;
  let image: { id: number };

  beforeAll(async () => {
    app = await createTestApp();
    user = await createUser(app);
    image = await createStoredImage(app, user, 'coffee.png');
  });

  afterAll(() => app.close());

  const post = (path: string, body: Record<string, unknown>, token = user.token) => api(app).post(path).set(bearer(token)).send(body);
  const put = (path: string, body: Record<string, unknown>, token = user.token) => api(app).put(path).set(bearer(token)).send(body);
  const jobCount = async () =>
    (await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200)).body.jobs_count as number;

  describe('a missing required field', () => {
    const required = (field: string) => ({ error: `${field} is required`, details: [{ field, message: `${field} is required` }] });

    it('gets one message saying it is required, on sign-up, sign-in and every other body', async () => {
      const username = unique('missing');
      const signUp = api(app).post('/api/users.json');
      expect((await signUp.send({ username, password: 'password123' }).expect(422)).body).toEqual(required('email'));
      const signIn = await api(app).post('/api/sessions.json').send({ username: user.username }).expect(422);
      expect(signIn.body).toEqual(required('password'));
      expect((await post('/api/image_types.json', {}, ADMIN_TOKEN).expect(422)).body).toEqual(required('type_name'));
      expect((await post('/api/job_types.json', {}, ADMIN_TOKEN).expect(422)).body).toEqual(required('job_name'));
      const batch = await post('/api/jobs/batch.json', {}).expect(422);
      expect(batch.body).toEqual(required('jobs'));
    });

    it("keeps a rule's own message for what is missing", async () => {
      const signIn = await api(app).post('/api/sessions.json').send({ password: 'password123' }).expect(422);
      expect(signIn.body).toEqual({
        error: 'username or email is required',
        details: [{ field: 'username', message: 'username or email is required' }],
      });
    });
  });

  describe('ids and integers in JSON bodies', () => {
    it('answers "image_id": "1" with one message, and an out-of-range image_id with one message naming the range', async () => {
      expect((await post('/api/jobs.json', { image_id: '1', job_type: 'grayscale' }).expect(422)).body).toEqual(NOT_AN_INTEGER('image_id'));
      for (const id of [0, -3, MAX_ID + 1, 99999999999]) {
        expect((await post('/api/jobs.json', { image_id: id, job_type: 'grayscale' }).expect(422)).body).toEqual(
          OUT_OF_RANGE('image_id', 1, MAX_ID),
        );
      }
      expect((await post('/api/jobs.json', { image_id: 1.5, job_type: 'grayscale' }).expect(422)).body).toEqual(NOT_AN_INTEGER('image_id'));
    });

    it.each([
      ['POST /api/jobs.json', 'user_id', '7', { job_type: 'grayscale' }],
      ['POST /api/jobs.json', 'timeout', '30', { job_type: 'grayscale' }],
      ['POST /api/jobs.json', 'ttl', true, { job_type: 'grayscale' }],
      ['POST /api/jobs.json', 'attempts', '3', { job_type: 'grayscale' }],
      ['POST /api/images.json', 'user_id', '1', {}],
      ['POST /api/images.json', 'image_type_id', 'original', {}],
      ['POST /api/images.json', 'original_id', '12', {}],
    ])('%s: a string %s gets one message', async (route, field, value, rest) => {
      const path = route.split(' ')[1];
      expect((await post(path, { ...rest, [field]: value }).expect(422)).body).toEqual(NOT_AN_INTEGER(field));
    });

    it.each([
      ['POST /api/jobs.json', 'user_id', 0, 1, MAX_ID],
      ['POST /api/jobs.json', 'timeout', 86401, 1, 86400],
      ['POST /api/jobs.json', 'ttl', 0, 1, 30 * 86400],
      ['POST /api/jobs.json', 'attempts', 21, 1, 20],
      ['POST /api/images.json', 'user_id', MAX_ID + 1, 1, MAX_ID],
      ['POST /api/images.json', 'image_type_id', -1, 1, MAX_ID],
      ['POST /api/images.json', 'original_id', 1e12, 1, MAX_ID],
    ])('%s: %s = %p gets one message naming the range', async (route, field, value, min, max) => {
      const path = route.split(' ')[1];
      const rest = path === '/api/jobs.json' ? { image_id: image.id, job_type: 'grayscale' } : {};
      expect((await post(path, { ...rest, [field]: value }).expect(422)).body).toEqual(OUT_OF_RANGE(field, min, max));
    });

    it('answers a wrong body id on every update route with one message', async () => {
      const own = await createImage(app, user);
      const job = await createJob(app, user, { image_id: image.id, job_type: 'invert' });
      const imageType = await createImageType(app);
      const jobTypes = (await api(app).get('/api/job_types.json').set(bearer(user.token)).expect(200)).body;
      const routes: [string, string][] = [
        [`/api/images/${own.id}.json`, user.token],
        [`/api/jobs/${job.id}.json`, user.token],
        [`/api/users/${user.id}.json`, user.token],
        [`/api/image_types/${imageType.id}.json`, ADMIN_TOKEN],
        [`/api/job_types/${jobTypes[0].id}.json`, ADMIN_TOKEN],
      ];
      for (const [path, token] of routes) {
        expect((await put(path, { id: String(own.id) }, token).expect(422)).body).toEqual(NOT_AN_INTEGER('id'));
        expect((await put(path, { id: 0 }, token).expect(422)).body).toEqual(OUT_OF_RANGE('id', 1, MAX_ID));
      }
    });

    it('names every wrong field once when several are wrong', async () => {
      const response = await post('/api/jobs.json', { image_id: '1', attempts: 99, job_type: 'grayscale' }).expect(422);
      expect(response.body).toEqual({
        error: 'Invalid values for image_id, attempts',
        details: [
          { field: 'image_id', message: 'image_id must be an integer' },
          { field: 'attempts', message: 'attempts must be an integer from 1 to 20' },
        ],
      });
    });
  });

  describe('ids in a multipart form', () => {
    it.each([
      ['user_id', 'abc', NOT_AN_INTEGER('user_id')],
      ['original_id', '1.5', NOT_AN_INTEGER('original_id')],
      ['user_id', '0', OUT_OF_RANGE('user_id', 1, MAX_ID)],
      ['original_id', '99999999999', OUT_OF_RANGE('original_id', 1, MAX_ID)],
      ['image_type_id', '-2', OUT_OF_RANGE('image_type_id', 1, MAX_ID)],
    ])('answers %s=%s as a JSON body would be answered', async (field, value, expected) => {
      const response = await api(app)
        .post('/api/images.json')
        .set(bearer(user.token))
        .field(field, value)
        .attach('file', fixture('coffee.png'), 'coffee.png')
        .expect(422);
      expect(response.body).toEqual(expected);
    });
  });

  describe('an unknown image_type filter', () => {
    it('is a 422 naming the known image types on GET /api/images.json', async () => {
      const response = await api(app).get('/api/images.json?image_type=sepia').set(bearer(user.token)).expect(422);
      expect(response.body.details).toEqual([{ field: 'image_type', message: response.body.error }]);
      expect(response.body.error).toMatch(
        /^image_type "sepia" is not an image type; known: original, (.+, )?grayscale, (.+, )?histogram\b/,
      );
      // A known type that no image has is still an empty list.
      const unused = await createImageType(app);
      expect((await api(app).get(`/api/images.json?image_type=${unused.type_name}`).set(bearer(user.token)).expect(200)).body).toEqual([]);
    });

    it.each([
      ['environment', { environment: "QUERY='n=all&image_type=sepia'" }, 'environment.QUERY.image_type'],
      ['params', { params: { n: 'all', image_type: 'sepia' } }, 'params.image_type'],
    ])('is a 422 in a query job’s selection given as %s, and nothing is queued', async (_, form, field) => {
      const before = await jobCount();
      const response = await post('/api/jobs.json', { job_sequence: ['query', 'histogram', 'median'], ...form }).expect(422);
      expect(response.body.details).toEqual([{ field, message: response.body.error }]);
      expect(response.body.error).toMatch(/^image_type "sepia" is not an image type; known: original, /);
      expect(await jobCount()).toBe(before);
      await post('/api/jobs.json', { job_sequence: ['query', 'histogram', 'median'], params: { image_type: 'histogram' } }).expect(201);
    });
  });
});
