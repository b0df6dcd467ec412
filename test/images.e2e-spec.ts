import { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { createHash } from 'node:crypto';
import { createImage, createImageType, createUser, fixture, TestUser } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp } from './utils/test-app';

const ids = (body: { id: number }[]) => body.map((row) => row.id);

describe('images', () => {
  let app: NestExpressApplication;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    app = await createTestApp();
    alice = await createUser(app);
    bob = await createUser(app);
  });

  afterAll(() => app.close());

  async function imageCount(user: TestUser): Promise<number> {
    return (await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200)).body.image_count;
  }

  describe('the seed’s upload transaction', () => {
    it('creates with {user_id}, uploads the original, and reads back its facts', async () => {
      const created = await api(app).post('/api/images.json').set(bearer(alice.token)).send({ user_id: alice.id }).expect(201);
      expect(created.body).toMatchObject({ id: expect.any(Number), status: 'created', s3_key: null, user_id: alice.id });
      const id = created.body.id;
      const photo = fixture('astronaut.jpg');
      const uploaded = await api(app)
        .put(`/api/images/${id}/file`)
        .set(bearer(alice.token))
        .set('Content-Type', 'image/jpeg')
        .send(photo)
        .expect(200);
      expect(uploaded.body).toMatchObject({
        id,
        status: 'original stored',
        s3_key: expect.stringMatching(/^originals\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\.jpg$/),
        image_type: 'original',
        format: 'jpeg',
        bytes: photo.length,
        sha256: createHash('sha256').update(photo).digest('hex'),
      });
      const read = await api(app).get(`/api/images/${id}`).set(bearer(alice.token)).expect(200);
      expect(read.body).toEqual(uploaded.body);
    });

    it("refuses an s3_key the server did not issue for this image (the seed's free-form key)", async () => {
      const image = await createImage(app, alice);
      const response = await api(app)
        .put(`/api/images/${image.id}.json`)
        .set(bearer(alice.token))
        .send({ id: image.id, s3_key: 'image-string', user_id: alice.id })
        .expect(422);
      expect(response.body.details[0]).toMatchObject({ field: 's3_key' });
      expect(response.body.error).toMatch(/upload_url/);
    });
  });

  it('shows the image type by name and id, and accepts either', async () => {
    const imageType = await createImageType(app);
    const byName = await createImage(app, alice, { image_type: imageType.type_name });
    expect(byName).toMatchObject({ image_type: imageType.type_name, image_type_id: imageType.id });
    const byId = await createImage(app, alice, { image_type_id: imageType.id });
    expect(byId).toMatchObject({ image_type: imageType.type_name });
    const unknown = await api(app).post('/api/images.json').set(bearer(alice.token)).send({ image_type: 'no-such-type' }).expect(422);
    expect(unknown.body.details).toEqual([{ field: 'image_type', message: 'There is no image type named "no-such-type"' }]);
  });

  it('records original_id only for an image of the same owner', async () => {
    const original = await createImage(app, alice);
    const derived = await createImage(app, alice, { original_id: original.id });
    expect(derived.original_id).toBe(original.id);
    const bobs = await createImage(app, bob);
    const refused = await api(app).post('/api/images.json').set(bearer(alice.token)).send({ original_id: bobs.id }).expect(404);
    expect(refused.body.error).toBe(`No image with id ${bobs.id}`);
  });

  it('refuses bad fields: unknown field, wrong type, unsafe s3_key', async () => {
    const unknown = await api(app).post('/api/images.json').set(bearer(alice.token)).send({ status: 'processed' }).expect(422);
    expect(unknown.body.details).toEqual([{ field: 'status', message: 'property status should not exist' }]);
    await api(app).post('/api/images.json').set(bearer(alice.token)).send({ user_id: 'me' }).expect(422);
    const image = await createImage(app, alice);
    for (const s3Key of ['../etc/passwd', '/abs/path', 'a//b', '']) {
      const response = await api(app).put(`/api/images/${image.id}.json`).set(bearer(alice.token)).send({ s3_key: s3Key }).expect(422);
      expect(response.body.details[0].field).toBe('s3_key');
    }
  });

  it('keeps image_count exact across creates and destroys', async () => {
    const user = await createUser(app);
    expect(await imageCount(user)).toBe(0);
    const first = await createImage(app, user);
    await createImage(app, user);
    expect(await imageCount(user)).toBe(2);
    await api(app).delete(`/api/images/${first.id}.json`).set(bearer(user.token)).expect(200);
    expect(await imageCount(user)).toBe(1);
  });

  it('moves the count with the image when an admin gives it to another user', async () => {
    const from = await createUser(app);
    const to = await createUser(app);
    const image = await createImage(app, from);
    await api(app).put(`/api/images/${image.id}.json`).set(bearer(ADMIN_TOKEN)).send({ user_id: to.id }).expect(200);
    expect([await imageCount(from), await imageCount(to)]).toEqual([0, 1]);
  });

  describe('access', () => {
    it("hides another user's image: 404 to read, change or destroy", async () => {
      const image = await createImage(app, alice);
      await api(app).get(`/api/images/${image.id}.json`).set(bearer(bob.token)).expect(404);
      await api(app).put(`/api/images/${image.id}.json`).set(bearer(bob.token)).send({ s3_key: 'x.jpg' }).expect(404);
      await api(app).delete(`/api/images/${image.id}.json`).set(bearer(bob.token)).expect(404);
      await api(app).get(`/api/images/${image.id}.json`).set(bearer(alice.token)).expect(200);
    });

    it("lists only the caller's images; naming another user_id is 403", async () => {
      const mine = await createImage(app, bob);
      const list = await api(app).get('/api/images.json?n=all').set(bearer(bob.token)).expect(200);
      expect(list.body.every((image: { user_id: number }) => image.user_id === bob.id)).toBe(true);
      expect(ids(list.body)).toContain(mine.id);
      await api(app).get(`/api/images.json?user_id=${alice.id}`).set(bearer(bob.token)).expect(403);
      await api(app).get(`/api/images.json?user_id=${bob.id}`).set(bearer(bob.token)).expect(200);
    });

    it('refuses to create an image for someone else unless the caller is an admin', async () => {
      const refused = await api(app).post('/api/images.json').set(bearer(bob.token)).send({ user_id: alice.id }).expect(403);
      expect(refused.body.error).toMatch(/your own user_id/);
      const given = await api(app).post('/api/images.json').set(bearer(ADMIN_TOKEN)).send({ user_id: alice.id }).expect(201);
      expect(given.body.user_id).toBe(alice.id);
      const missingOwner = await api(app).post('/api/images.json').set(bearer(ADMIN_TOKEN)).send({}).expect(422);
      expect(missingOwner.body.details[0].field).toBe('user_id');
      const noSuchUser = await api(app).post('/api/images.json').set(bearer(ADMIN_TOKEN)).send({ user_id: 2147483000 }).expect(422);
      expect(noSuchUser.body.details[0].field).toBe('user_id');
    });
  });

  describe('index filters', () => {
    let carol: TestUser;
    let typed: { type_name: string };
    let made: { id: number }[];

    beforeAll(async () => {
      carol = await createUser(app);
      typed = await createImageType(app);
      made = [];
      for (let i = 0; i < 6; i++) made.push(await createImage(app, carol, i % 2 ? { image_type: typed.type_name } : {}));
      // Age the first two: one created 3 days ago, one 10 days ago.
      const dataSource = app.get(DataSource);
      await dataSource.query(`UPDATE images SET created_at = now() - interval '10 days' WHERE id = $1`, [made[0].id]);
      await dataSource.query(`UPDATE images SET created_at = now() - interval '3 days' WHERE id = $1`, [made[1].id]);
    });

    const list = async (query: string) => ids((await api(app).get(`/api/images.json?${query}`).set(bearer(carol.token)).expect(200)).body);
    const newestFirst = () => made.map((image) => image.id).reverse();

    it('returns the newest 20 by default and n or count of them', async () => {
      expect(await list('')).toEqual(newestFirst());
      expect(await list('n=2')).toEqual(newestFirst().slice(0, 2));
      expect(await list('count=3')).toEqual(newestFirst().slice(0, 3));
      expect(await list('n=all')).toEqual(newestFirst());
    });

    it('filters by days=N and days=today', async () => {
      expect(await list('days=5')).toEqual(newestFirst().slice(0, 5));
      expect(await list('days=30')).toEqual(newestFirst());
      const today = await list('days=today');
      expect(today).not.toContain(made[0].id);
      expect(today).not.toContain(made[1].id);
      expect(today).toEqual(expect.arrayContaining(made.slice(2).map((image) => image.id)));
    });

    it('filters by image_type name and user_id, combined with n', async () => {
      const typedIds = made
        .filter((_, i) => i % 2)
        .map((image) => image.id)
        .reverse();
      expect(await list(`image_type=${typed.type_name}`)).toEqual(typedIds);
      expect(await list(`image_type=${typed.type_name}&n=1`)).toEqual(typedIds.slice(0, 1));
      expect(await list(`user_id=${carol.id}&days=5&n=2`)).toEqual(newestFirst().slice(0, 2));
      const adminView = await api(app).get(`/api/images.json?user_id=${carol.id}&n=all`).set(bearer(ADMIN_TOKEN)).expect(200);
      expect(ids(adminView.body)).toEqual(newestFirst());
    });

    it.each([
      ['n=0', 'n'],
      ['n=abc', 'n'],
      ['count=-1', 'count'],
      ['n=2&count=3', 'count'],
      ['days=yesterday', 'days'],
      ['days=0', 'days'],
      ['user_id=x', 'user_id'],
      ['colour=red', 'colour'],
      ['n=1&n=2', 'n'],
    ])('refuses ?%s with 422 naming %s', async (query, field) => {
      const response = await api(app).get(`/api/images.json?${query}`).set(bearer(carol.token)).expect(422);
      expect(response.body.details.map((detail: { field: string }) => detail.field)).toContain(field);
    });
  });
});
