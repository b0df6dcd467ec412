import { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import { createUser, TestUser } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp, testEnv, TestEnv } from './utils/test-app';

/**
 * The session cache: two API instances on one database, each keeping lookups for an hour, so that
 * only an invalidation can explain a token being refused within the test.
 */
describe('session cache', () => {
  let env: TestEnv;
  let first: NestExpressApplication;
  let second: NestExpressApplication;
  let db: Client;

  beforeAll(async () => {
    env = testEnv({ AUTH_CACHE_SECONDS: '3600' });
    [first, second] = [await createTestApp(env), await createTestApp(env)];
    db = new Client({ connectionString: env.DATABASE_URL });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await first?.close();
    await second?.close();
  });

  const me = (app: NestExpressApplication, user: TestUser, token = user.token) =>
    api(app).get(`/api/users/${user.id}.json`).set(bearer(token));

  /** The other instance hears of a change from PostgreSQL a moment after it commits. */
  async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`Still not so after 10 s: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const statusIs =
    (app: NestExpressApplication, user: TestUser, status: number, token = user.token) =>
    async () =>
      (await me(app, user, token)).status === status;

  /** Deletes a session behind the API's back, with triggers off: no instance hears of it. */
  async function deleteSilently(userId: number): Promise<void> {
    await db.query('BEGIN');
    await db.query('SET LOCAL session_replication_role = replica');
    await db.query('DELETE FROM sessions WHERE user_id = $1', [userId]);
    await db.query('COMMIT');
  }

  it('answers from the cache: a session deleted without a notice still works until its entry is cleared', async () => {
    const ada = await createUser(first);
    await me(first, ada).expect(200);
    await deleteSilently(ada.id);
    // No query: the cached lookup answers (a fresh instance would look it up and refuse it).
    await me(first, ada).expect(200);
    await me(second, ada).expect(401);
  });

  it('signing out refuses the token at once on the same instance, and on the other as soon as it hears', async () => {
    const ada = await createUser(first);
    await me(first, ada).expect(200);
    await me(second, ada).expect(200);
    await api(first).delete('/api/sessions/current.json').set(bearer(ada.token)).expect(200);
    await me(first, ada).expect(401);
    await eventually(statusIs(second, ada, 401), 'the second instance refuses a signed-out token');
  });

  it('ending another session, or changing the password, refuses the ended tokens', async () => {
    const ada = await createUser(first);
    const signIn = async () =>
      (await api(first).post('/api/sessions.json').send({ username: ada.username, password: ada.password }).expect(200)).body
        .authentication_token as string;
    const [laptop, phone] = [await signIn(), await signIn()];
    for (const token of [ada.token, laptop, phone]) {
      await me(first, ada, token).expect(200);
      await me(second, ada, token).expect(200);
    }
    const sessions = (await api(first).get('/api/sessions.json').set(bearer(laptop)).expect(200)).body as {
      id: number;
      current: boolean;
    }[];
    const laptopSession = sessions.find((session) => session.current)!;
    await api(second).delete(`/api/sessions/${laptopSession.id}.json`).set(bearer(ada.token)).expect(200);
    await me(second, ada, laptop).expect(401);
    await eventually(statusIs(first, ada, 401, laptop), 'the first instance refuses an ended session');

    await api(first).put(`/api/users/${ada.id}.json`).set(bearer(ada.token)).send({ password: 'another-password' }).expect(200);
    await me(first, ada, phone).expect(401);
    await me(first, ada).expect(200);
    await eventually(statusIs(second, ada, 401, phone), 'the second instance refuses a session ended by a password change');
    await me(second, ada).expect(200);
  });

  it('takes an admin flag away at once, on both instances', async () => {
    const [ada, bob] = [await createUser(first), await createUser(first)];
    await api(first).put(`/api/users/${ada.id}.json`).set(bearer(ADMIN_TOKEN)).send({ admin: true }).expect(200);
    const readBob = (app: NestExpressApplication) => api(app).get(`/api/users/${bob.id}.json`).set(bearer(ada.token));
    await readBob(first).expect(200);
    await readBob(second).expect(200);
    await api(first).put(`/api/users/${ada.id}.json`).set(bearer(ADMIN_TOKEN)).send({ admin: false }).expect(200);
    await readBob(first).expect(404);
    await eventually(async () => (await readBob(second)).status === 404, 'the second instance no longer treats ada as an admin');
    // The token itself still works: only what it grants changed.
    await me(second, ada).expect(200);
  });

  it('refuses the tokens of a deleted user at once, on both instances', async () => {
    const ada = await createUser(first);
    await me(first, ada).expect(200);
    await me(second, ada).expect(200);
    await api(second).delete(`/api/users/${ada.id}.json`).set(bearer(ADMIN_TOKEN)).expect(200);
    await me(second, ada).expect(401);
    await eventually(statusIs(first, ada, 401), 'the first instance refuses a deleted user');
  });

  it('clears everything after losing its listening connection, since notices may have been missed', async () => {
    const ada = await createUser(first);
    await me(first, ada).expect(200);
    await deleteSilently(ada.id);
    await me(first, ada).expect(200);
    await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN darkroom_auth' AND pid <> pg_backend_pid()`,
    );
    await eventually(statusIs(first, ada, 401), 'the first instance starts afresh once it listens again');
  });
});
