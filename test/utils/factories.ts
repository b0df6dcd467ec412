import { NestExpressApplication } from '@nestjs/platform-express';
import { ADMIN_TOKEN, api, bearer } from './test-app';

let sequence = 0;
/** Unique per test process and run, so suites sharing the run's database never collide. */
export const unique = (prefix: string) => `${prefix}${process.pid}x${Date.now().toString(36)}x${++sequence}`;

export interface TestUser {
  id: number;
  username: string;
  email: string;
  password: string;
  token: string;
}

export async function createUser(app: NestExpressApplication, overrides: Partial<TestUser> = {}): Promise<TestUser> {
  const username = overrides.username ?? unique('user');
  const body = { username, email: overrides.email ?? `${username}@example.com`, password: overrides.password ?? 'password123' };
  const response = await api(app).post('/api/users.json').send(body).expect(201);
  return { ...body, id: response.body.id, token: response.body.authentication_token };
}

export async function createAdmin(app: NestExpressApplication): Promise<TestUser> {
  const user = await createUser(app);
  await api(app).put(`/api/users/${user.id}.json`).set(bearer(ADMIN_TOKEN)).send({ admin: true }).expect(200);
  return user;
}

export async function createImageType(app: NestExpressApplication, typeName = unique('type')): Promise<{ id: number; type_name: string }> {
  const response = await api(app)
    .post('/api/image_types.json')
    .set(bearer(ADMIN_TOKEN))
    .send({ type_name: typeName })
    .expect(201);
  return response.body;
}

export async function createImage(
  app: NestExpressApplication,
  owner: TestUser,
  body: Record<string, unknown> = {},
): Promise<{ id: number; [field: string]: unknown }> {
  const response = await api(app).post('/api/images.json').set(bearer(owner.token)).send(body).expect(201);
  return response.body;
}

/** An image whose original is recorded as stored, ready for a process job. */
export async function createStoredImage(app: NestExpressApplication, owner: TestUser): Promise<{ id: number }> {
  const image = await createImage(app, owner);
  await api(app)
    .put(`/api/images/${image.id}.json`)
    .set(bearer(owner.token))
    .send({ s3_key: `originals/${image.id}.jpg` })
    .expect(200);
  return image;
}

export async function createJob(
  app: NestExpressApplication,
  owner: TestUser,
  body: Record<string, unknown>,
): Promise<{ id: number; [field: string]: unknown }> {
  const response = await api(app).post('/api/jobs.json').set(bearer(owner.token)).send(body).expect(201);
  return response.body;
}
