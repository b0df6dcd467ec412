import { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { createAdmin, createUser, unique } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp } from './utils/test-app';

const PRIVATE_FIELDS = ['encrypted_password', 'authentication_token', 'password'];

describe('users and sessions', () => {
  let app: NestExpressApplication;

  beforeAll(async () => {
    app = await createTestApp();
  });

  afterAll(() => app.close());

  describe('POST /api/users.json (sign-up)', () => {
    it('creates a user without credentials and shows the token only here', async () => {
      const username = unique('signup');
      const response = await api(app)
        .post('/api/users.json')
        .send({ username, email: `${username.toUpperCase()}@Example.COM`, password: 'password123' })
        .expect(201);
      expect(response.body).toEqual({
        id: expect.any(Number),
        username,
        email: `${username}@example.com`,
        jobs_count: 0,
        image_count: 0,
        admin: false,
        authentication_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      const read = await api(app).get(`/api/users/${response.body.id}.json`).set(bearer(response.body.authentication_token)).expect(200);
      for (const field of PRIVATE_FIELDS) expect(read.body).not.toHaveProperty(field);
    });

    it('stores only a slow salted hash of the password', async () => {
      const user = await createUser(app, { password: 'same-password' });
      const other = await createUser(app, { password: 'same-password' });
      const rows: { encrypted_password: string }[] = await app
        .get(DataSource)
        .query('SELECT encrypted_password FROM users WHERE id = ANY($1) ORDER BY id', [[user.id, other.id]]);
      expect(rows[0].encrypted_password).toMatch(/^\$2b\$12\$/);
      expect(rows[0].encrypted_password).not.toContain('same-password');
      expect(rows[0].encrypted_password).not.toEqual(rows[1].encrypted_password);
    });

    it('answers without the .json suffix too', async () => {
      const username = unique('plain');
      await api(app)
        .post('/api/users')
        .send({ username, email: `${username}@example.com`, password: 'password123' })
        .expect(201);
    });

    it('refuses a duplicate username or email with 422 naming the field', async () => {
      const user = await createUser(app);
      const duplicateName = await api(app)
        .post('/api/users.json')
        .send({ username: user.username, email: `${unique('x')}@example.com`, password: 'password123' })
        .expect(422);
      expect(duplicateName.body.details).toEqual([{ field: 'username', message: 'username has already been taken' }]);
      const duplicateEmail = await api(app)
        .post('/api/users.json')
        .send({ username: unique('x'), email: user.email.toUpperCase(), password: 'password123' })
        .expect(422);
      expect(duplicateEmail.body.details).toEqual([{ field: 'email', message: 'email has already been taken' }]);
    });

    it('refuses missing, mistyped and unknown fields with 422 naming each', async () => {
      const response = await api(app).post('/api/users.json').send({ username: 7, password: 'short' }).expect(422);
      const fields = response.body.details.map((detail: { field: string }) => detail.field);
      expect(new Set(fields)).toEqual(new Set(['username', 'email', 'password']));
      expect(response.body.error).toEqual(expect.any(String));
    });

    it('refuses a password bcrypt would truncate (over 72 bytes)', async () => {
      const username = unique('long');
      const response = await api(app)
        .post('/api/users.json')
        .send({ username, email: `${username}@example.com`, password: 'é'.repeat(37) })
        .expect(422);
      expect(response.body.details).toEqual([{ field: 'password', message: 'password must be 8 to 72 bytes long' }]);
    });

    it.each(['admin', 'jobs_count', 'image_count', 'encrypted_password', 'authentication_token'])(
      'refuses a client-set %s',
      async (field) => {
        const username = unique('sneaky');
        const response = await api(app)
          .post('/api/users.json')
          .send({ username, email: `${username}@example.com`, password: 'password123', [field]: true })
          .expect(422);
        expect(response.body.details).toContainEqual({ field, message: `property ${field} should not exist` });
      },
    );
  });

  describe('POST /api/sessions.json (sign-in)', () => {
    it('starts a new session, with a new token, for the username or the email', async () => {
      const user = await createUser(app);
      const byName = await api(app).post('/api/sessions.json').send({ username: user.username, password: user.password }).expect(200);
      expect(byName.body.authentication_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const byEmail = await api(app).post('/api/sessions').send({ email: user.email.toUpperCase(), password: user.password }).expect(200);
      const tokens = [user.token, byName.body.authentication_token, byEmail.body.authentication_token];
      expect(new Set(tokens).size).toBe(3);
      for (const token of tokens) await api(app).get(`/api/users/${user.id}.json`).set(bearer(token)).expect(200);
    });

    it('answers 401 to a wrong password or an unknown user, 422 to a missing login', async () => {
      const user = await createUser(app);
      await api(app).post('/api/sessions.json').send({ username: user.username, password: 'wrong-password' }).expect(401);
      await api(app)
        .post('/api/sessions.json')
        .send({ username: unique('nobody'), password: 'whatever1' })
        .expect(401);
      const missing = await api(app).post('/api/sessions.json').send({ password: 'whatever1' }).expect(422);
      expect(missing.body.details[0].field).toBe('username');
    });
  });

  describe('index, read, update, destroy', () => {
    it('lists only yourself to a user, everyone to an admin, newest first', async () => {
      const first = await createUser(app);
      const second = await createUser(app);
      const own = await api(app).get('/api/users.json').set(bearer(first.token)).expect(200);
      expect(own.body.map((user: { id: number }) => user.id)).toEqual([first.id]);
      const all = await api(app).get('/api/users.json?n=all').set(bearer(ADMIN_TOKEN)).expect(200);
      const ids = all.body.map((user: { id: number }) => user.id);
      expect(ids).toEqual(expect.arrayContaining([first.id, second.id]));
      expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
      for (const user of all.body) for (const field of PRIVATE_FIELDS) expect(user).not.toHaveProperty(field);
    });

    it("hides another user's record: 404 to read, change or destroy it", async () => {
      const alice = await createUser(app);
      const bob = await createUser(app);
      await api(app).get(`/api/users/${bob.id}.json`).set(bearer(alice.token)).expect(404);
      await api(app).put(`/api/users/${bob.id}.json`).set(bearer(alice.token)).send({ email: 'x@example.com' }).expect(404);
      await api(app).delete(`/api/users/${bob.id}.json`).set(bearer(alice.token)).expect(404);
      await api(app).get(`/api/users/${bob.id}`).set(bearer(bob.token)).expect(200);
    });

    it('updates your own email and password; the new password signs in', async () => {
      const user = await createUser(app);
      const email = `${unique('new')}@example.com`;
      const response = await api(app)
        .put(`/api/users/${user.id}.json`)
        .set(bearer(user.token))
        .send({ id: user.id, email, password: 'new-password-1' })
        .expect(200);
      expect(response.body.email).toBe(email);
      await api(app).post('/api/sessions.json').send({ email, password: 'new-password-1' }).expect(200);
      await api(app).post('/api/sessions.json').send({ email, password: user.password }).expect(401);
    });

    it('refuses a body id that differs from the URL and a non-admin setting admin', async () => {
      const user = await createUser(app);
      const mismatch = await api(app)
        .put(`/api/users/${user.id}.json`)
        .set(bearer(user.token))
        .send({ id: user.id + 1000 })
        .expect(422);
      expect(mismatch.body.details[0].field).toBe('id');
      const promote = await api(app).put(`/api/users/${user.id}`).set(bearer(user.token)).send({ admin: true }).expect(403);
      expect(promote.body.error).toMatch(/admin/);
    });

    it('lets an admin (ADMIN_TOKEN or a user with admin) promote, read and destroy others', async () => {
      const admin = await createUser(app);
      await api(app).put(`/api/users/${admin.id}.json`).set(bearer(ADMIN_TOKEN)).send({ admin: true }).expect(200);
      const target = await createUser(app);
      const read = await api(app).get(`/api/users/${target.id}.json`).set(bearer(admin.token)).expect(200);
      expect(read.body.username).toBe(target.username);
      const destroyed = await api(app).delete(`/api/users/${target.id}.json`).set(bearer(admin.token)).expect(200);
      expect(destroyed.body).toMatchObject({ id: target.id, username: target.username });
      await api(app).get(`/api/users/${target.id}.json`).set(bearer(ADMIN_TOKEN)).expect(404);
    });

    it('answers GET /api/users/me.json with the caller, even an admin who sees everyone', async () => {
      const admin = await createAdmin(app);
      const user = await createUser(app);
      for (const caller of [admin, user]) {
        for (const path of ['/api/users/me.json', '/api/users/me']) {
          const { body } = await api(app).get(path).set(bearer(caller.token)).expect(200);
          expect(body).toMatchObject({ id: caller.id, username: caller.username, usage: expect.any(Object), limits: expect.any(Object) });
          for (const field of PRIVATE_FIELDS) expect(body).not.toHaveProperty(field);
        }
      }
      await api(app).get('/api/users/me.json').expect(401);
      const token = await api(app).get('/api/users/me.json').set(bearer(ADMIN_TOKEN)).expect(404);
      expect(token.body.error).toBe('ADMIN_TOKEN is no user: it has no "me"');
    });

    it('destroys your own account; its token stops working', async () => {
      const user = await createUser(app);
      const response = await api(app).delete(`/api/users/${user.id}`).set(bearer(user.token)).expect(200);
      expect(response.body.id).toBe(user.id);
      await api(app).get('/api/users.json').set(bearer(user.token)).expect(401);
    });
  });
});
