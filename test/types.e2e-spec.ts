import { NestExpressApplication } from '@nestjs/platform-express';
import { createImage, createImageType, createUser, TestUser, unique } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp } from './utils/test-app';

/** Image types and job types: readable by every user, managed by admins only. */
describe.each([
  { path: '/api/image_types', name: 'type_name', extra: {} },
  { path: '/api/job_types', name: 'job_name', extra: { language: 'typescript' } },
])('$path', ({ path, name, extra }) => {
  let app: NestExpressApplication;
  let user: TestUser;
  const newName = () => unique('t').toLowerCase();

  beforeAll(async () => {
    app = await createTestApp();
    user = await createUser(app);
  });

  afterAll(() => app.close());

  it('lets an admin create, read, update and destroy, with and without .json', async () => {
    const created = await api(app)
      .post(`${path}.json`)
      .set(bearer(ADMIN_TOKEN))
      .send({ [name]: newName(), ...extra })
      .expect(201);
    expect(created.body).toMatchObject({ id: expect.any(Number), ...extra });
    const id = created.body.id;
    await api(app).get(`${path}/${id}.json`).set(bearer(user.token)).expect(200);
    const renamed = newName();
    const updated = await api(app)
      .put(`${path}/${id}`)
      .set(bearer(ADMIN_TOKEN))
      .send({ id, [name]: renamed })
      .expect(200);
    expect(updated.body[name]).toBe(renamed);
    const destroyed = await api(app).delete(`${path}/${id}.json`).set(bearer(ADMIN_TOKEN)).expect(200);
    expect(destroyed.body[name]).toBe(renamed);
    await api(app).get(`${path}/${id}.json`).set(bearer(user.token)).expect(404);
  });

  it('lets a user list and read but not create, change or destroy (403)', async () => {
    const created = await api(app)
      .post(path)
      .set(bearer(ADMIN_TOKEN))
      .send({ [name]: newName() })
      .expect(201);
    const list = await api(app).get(`${path}.json?n=all`).set(bearer(user.token)).expect(200);
    expect(list.body.map((row: { id: number }) => row.id)).toContain(created.body.id);
    await api(app)
      .post(`${path}.json`)
      .set(bearer(user.token))
      .send({ [name]: newName() })
      .expect(403);
    await api(app)
      .put(`${path}/${created.body.id}.json`)
      .set(bearer(user.token))
      .send({ [name]: newName() })
      .expect(403);
    await api(app).delete(`${path}/${created.body.id}.json`).set(bearer(user.token)).expect(403);
  });

  it('refuses a duplicate or missing name with 422', async () => {
    const taken = newName();
    await api(app)
      .post(`${path}.json`)
      .set(bearer(ADMIN_TOKEN))
      .send({ [name]: taken })
      .expect(201);
    const duplicate = await api(app)
      .post(`${path}.json`)
      .set(bearer(ADMIN_TOKEN))
      .send({ [name]: taken })
      .expect(422);
    expect(duplicate.body.details).toEqual([{ field: name, message: `${name} has already been taken` }]);
    const missing = await api(app).post(`${path}.json`).set(bearer(ADMIN_TOKEN)).send({}).expect(422);
    expect(missing.body.details.map((detail: { field: string }) => detail.field)).toContain(name);
  });

  it('lists the newest n first', async () => {
    const older = await api(app)
      .post(path)
      .set(bearer(ADMIN_TOKEN))
      .send({ [name]: newName() })
      .expect(201);
    const newer = await api(app)
      .post(path)
      .set(bearer(ADMIN_TOKEN))
      .send({ [name]: newName() })
      .expect(201);
    const list = await api(app).get(`${path}.json?count=2`).set(bearer(user.token)).expect(200);
    expect(list.body.map((row: { id: number }) => row.id)).toEqual([newer.body.id, older.body.id]);
  });
});

describe('image types in use', () => {
  let app: NestExpressApplication;

  beforeAll(async () => {
    app = await createTestApp();
  });

  afterAll(() => app.close());

  it('cannot be destroyed while an image has that type (409), and can afterwards', async () => {
    const imageType = await createImageType(app);
    const owner = await createUser(app);
    const image = await createImage(app, owner, { image_type: imageType.type_name });
    const refused = await api(app).delete(`/api/image_types/${imageType.id}.json`).set(bearer(ADMIN_TOKEN)).expect(409);
    expect(refused.body.error).toMatch(/images/);
    await api(app).delete(`/api/images/${image.id}.json`).set(bearer(owner.token)).expect(200);
    await api(app).delete(`/api/image_types/${imageType.id}.json`).set(bearer(ADMIN_TOKEN)).expect(200);
  });
});
