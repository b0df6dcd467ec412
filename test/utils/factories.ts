import { NestExpressApplication } from '@nestjs/platform-express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  const response = await api(app).post('/api/image_types.json').set(bearer(ADMIN_TOKEN)).send({ type_name: typeName }).expect(201);
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

export const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', name));

/** An image with a real photograph uploaded as its original, ready for a process job. */
export async function createStoredImage(
  app: NestExpressApplication,
  owner: TestUser,
  file = 'astronaut.png',
): Promise<{ id: number; s3_key: string; [field: string]: unknown }> {
  const image = await createImage(app, owner);
  const response = await api(app)
    .put(`/api/images/${image.id}/file`)
    .set(bearer(owner.token))
    .set('Content-Type', file.endsWith('.png') ? 'image/png' : 'image/jpeg')
    .send(fixture(file))
    .expect(200);
  return response.body;
}

export async function createJob(
  app: NestExpressApplication,
  owner: TestUser,
  body: Record<string, unknown>,
): Promise<{ id: number; [field: string]: unknown }> {
  const response = await api(app).post('/api/jobs.json').set(bearer(owner.token)).send(body).expect(201);
  return response.body;
}
