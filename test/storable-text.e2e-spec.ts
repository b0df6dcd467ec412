import { NestExpressApplication } from '@nestjs/platform-express';
import { createStoredImage, createUser, TestUser } from './utils/factories';
import { api, bearer, createTestApp } from './utils/test-app';

const refused = (field: string) => {
  const message = `${field} must be text without NUL characters (\\u0000) or unpaired surrogates`;
  return { error: message, details: [{ field, message }] };
};

/** Free-text fields PostgreSQL cannot store a NUL or half a surrogate pair in: refused before the database, naming the field. */
describe('text the database cannot store', () => {
  let app: NestExpressApplication;
  let user: TestUser;
  let image: { id: number };

  beforeAll(async () => {
    app = await createTestApp();
    user = await createUser(app);
    image = await createStoredImage(app, user, 'coffee.png');
  });

  afterAll(() => app.close());

  it.each([
    ['username', { username: 'ada\u0000', password: 'whatever-password' }],
    ['email', { email: 'ada\u0000@example.com', password: 'whatever-password' }],
  ])('a sign-in with a NUL in its %s gets 422 naming it', async (field, body) => {
    expect((await api(app).post('/api/sessions.json').send(body).expect(422)).body).toEqual(refused(field));
  });

  it.each([['a\u0000b'], ['half a pair \ud83d']])('a job whose environment is %j gets 422 naming it, and no job', async (environment) => {
    const answer = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: image.id, job_type: 'grayscale', environment })
      .expect(422);
    expect(answer.body).toEqual(refused('environment'));
    expect((await api(app).get('/api/jobs.json').set(bearer(user.token)).expect(200)).body).toEqual([]);
  });

  it('a password with a NUL, which bcrypt would cut short there, gets 422 at sign-up and on a change', async () => {
    const signUp = { username: 'nul-password', email: 'nul-password@example.com', password: 'a\u0000bcdefgh' };
    expect((await api(app).post('/api/users.json').send(signUp).expect(422)).body).toEqual(refused('password'));
    const change = await api(app)
      .put(`/api/users/${user.id}.json`)
      .set(bearer(user.token))
      .send({ password: 'a\u0000bcdefgh' })
      .expect(422);
    expect(change.body).toEqual(refused('password'));
  });

  it('an image whose image_type holds a NUL gets 422 naming it', async () => {
    const answer = await api(app).post('/api/images.json').set(bearer(user.token)).send({ image_type: 'original\u0000' }).expect(422);
    expect(answer.body).toEqual(refused('image_type'));
  });
});
