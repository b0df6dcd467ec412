import { Logger } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { migrations } from '../migrations';
import { Sessions1795500000000 } from '../migrations/1795500000000-Sessions';
import { dropDatabase, ensureDatabase, withDatabase } from '../src/database/database-admin';
import { dataSourceOptions } from '../src/database/data-source-options';
import { runMigrations } from '../src/database/migrate';
import { SessionsService } from '../src/sessions/sessions.service';
import { TEST_DATABASE_URL_VARIABLE } from './setup/test-env';
import { createUser, TestUser, unique } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp, testEnv } from './utils/test-app';

describe('sessions', () => {
  let app: NestExpressApplication;
  let db: DataSource;

  beforeAll(async () => {
    // Many sign-ins from one address: no sign-in rate limit here (a variable unknown to the config is ignored).
    // Every request looks its token up (AUTH_CACHE_SECONDS=0): the tests below change sessions
    // behind the API's back and watch each lookup; test/auth-cache.e2e-spec.ts covers the cache.
    app = await createTestApp(testEnv({ AUTH_RATE_LIMIT: '0', AUTH_CACHE_SECONDS: '0' }));
    db = app.get(DataSource);
  });

  afterAll(() => app.close());

  const signIn = async (user: TestUser, userAgent = 'jest'): Promise<string> =>
    (
      await api(app)
        .post('/api/sessions.json')
        .set('User-Agent', userAgent)
        .send({ username: user.username, password: user.password })
        .expect(200)
    ).body.authentication_token;
  const works = (token: string, user: TestUser) => api(app).get(`/api/users/${user.id}.json`).set(bearer(token)).expect(200);
  const refused = (token: string, user: TestUser) => api(app).get(`/api/users/${user.id}.json`).set(bearer(token)).expect(401);
  const sessionIdOf = async (token: string): Promise<number> => {
    const { body } = await api(app).get('/api/sessions.json').set(bearer(token)).expect(200);
    return body.find((session: { current: boolean }) => session.current).id;
  };

  it('gives every sign-in a new token that works, until it signs out', async () => {
    const user = await createUser(app);
    await works(user.token, user);
    const token = await signIn(user);
    expect(token).not.toBe(user.token);
    await works(token, user);
    const out = await api(app).delete('/api/sessions/current.json').set(bearer(token)).expect(200);
    expect(out.body).toEqual({ signed_out: true });
    await refused(token, user);
    await api(app).delete('/api/sessions/current.json').set(bearer(token)).expect(401);
    await works(user.token, user);
  });

  it('lists the caller’s sessions, marks the current one, and never shows a token', async () => {
    const user = await createUser(app);
    const phone = await signIn(user, 'Phone/1.0');
    const { body } = await api(app).get('/api/sessions.json').set(bearer(phone)).expect(200);
    expect(body).toHaveLength(2);
    const current = body.find((session: { current: boolean }) => session.current);
    expect(current).toEqual({
      id: expect.any(Number),
      created_at: expect.any(String),
      last_used_at: expect.any(String),
      user_agent: 'Phone/1.0',
      ip: expect.stringMatching(/127\.0\.0\.1|::1/),
      current: true,
    });
    expect(body.filter((session: { current: boolean }) => !session.current)).toHaveLength(1);
    expect(JSON.stringify(body)).not.toContain(phone);
    expect(JSON.stringify(body)).not.toContain(user.token);
    expect(JSON.stringify(body)).not.toContain('token');
    // Without the suffix too; someone else sees only their own.
    const other = await createUser(app);
    const theirs = await api(app).get('/api/sessions').set(bearer(other.token)).expect(200);
    expect(theirs.body.map((session: { id: number }) => session.id)).not.toContain(current.id);
  });

  it('ends one device’s session and leaves the other working; someone else’s is a 404', async () => {
    const user = await createUser(app);
    const laptop = await signIn(user, 'Laptop');
    const phone = await signIn(user, 'Phone');
    const phoneId = await sessionIdOf(phone);
    const stranger = await createUser(app);
    await api(app).delete(`/api/sessions/${phoneId}.json`).set(bearer(stranger.token)).expect(404);
    await works(phone, user);
    const ended = await api(app).delete(`/api/sessions/${phoneId}.json`).set(bearer(laptop)).expect(200);
    expect(ended.body).toEqual({ id: phoneId, ended: true });
    await refused(phone, user);
    await works(laptop, user);
    await api(app).delete(`/api/sessions/${phoneId}.json`).set(bearer(laptop)).expect(404);
    await api(app).delete('/api/sessions/nope.json').set(bearer(laptop)).expect(404);
  });

  it('ends every other session on a password change; the changing one keeps working', async () => {
    const user = await createUser(app);
    const laptop = await signIn(user);
    const phone = await signIn(user);
    await api(app).put(`/api/users/${user.id}.json`).set(bearer(laptop)).send({ password: 'a-new-password' }).expect(200);
    await works(laptop, user);
    await refused(phone, user);
    await refused(user.token, user);
    await api(app).post('/api/sessions.json').send({ username: user.username, password: user.password }).expect(401);
    await signIn({ ...user, password: 'a-new-password' });
    // Other changes end nothing.
    await api(app)
      .put(`/api/users/${user.id}.json`)
      .set(bearer(laptop))
      .send({ email: `${unique('m')}@example.com` })
      .expect(200);
    await works(laptop, user);
  });

  it('lets an admin end all of a user’s sessions, and a user their own, but not another’s', async () => {
    const user = await createUser(app);
    const second = await signIn(user);
    const stranger = await createUser(app);
    await api(app).delete(`/api/users/${user.id}/sessions`).set(bearer(stranger.token)).expect(404);
    const { body } = await api(app).delete(`/api/users/${user.id}/sessions.json`).set(bearer(ADMIN_TOKEN)).expect(200);
    expect(body).toEqual({ ended: 2 });
    await refused(user.token, user);
    await refused(second, user);
    const again = await signIn(user);
    await api(app).delete(`/api/users/${user.id}/sessions`).set(bearer(again)).expect(200);
    await refused(again, user);
  });

  it('stores no token in plain text, anywhere', async () => {
    const user = await createUser(app);
    const tokens = [user.token, await signIn(user)];
    const tables: { table_name: string }[] = await db.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    expect(tables.map((table) => table.table_name)).toContain('sessions');
    for (const { table_name } of tables) {
      for (const token of tokens) {
        const [{ count }] = await db.query(`SELECT count(*)::int AS count FROM "${table_name}" t WHERE t::text LIKE '%' || $1 || '%'`, [
          token,
        ]);
        expect({ table_name, count }).toEqual({ table_name, count: 0 });
      }
    }
    const columns: { column_name: string }[] = await db.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'authentication_token'",
    );
    expect(columns).toEqual([]);
    const rows: { token_sha256: Buffer }[] = await db.query('SELECT token_sha256 FROM sessions WHERE user_id = $1', [user.id]);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.token_sha256).toHaveLength(32);
  });

  it('refuses an unknown user and a wrong password alike, in the same time, and logs the address but not the password', async () => {
    const user = await createUser(app);
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const attempt = async (username: string) => {
        const started = performance.now();
        const response = await api(app).post('/api/sessions.json').send({ username, password: 'Secret-Guess-42' });
        return { status: response.status, body: response.body, ms: performance.now() - started };
      };
      const wrong = [];
      const unknown = [];
      for (let i = 0; i < 5; i++) {
        wrong.push(await attempt(user.username));
        unknown.push(await attempt(unique('nobody')));
      }
      for (const result of [...wrong, ...unknown]) {
        expect({ status: result.status, body: result.body }).toEqual({
          status: 401,
          body: { error: 'Wrong username, email or password', details: [] },
        });
      }
      const median = (results: { ms: number }[]) => results.map((r) => r.ms).sort((a, b) => a - b)[2];
      // Both run one bcrypt comparison of cost 12 (tens to hundreds of milliseconds); a lookup
      // alone would be about a millisecond, a ratio near 0.01. The bounds leave room for a busy
      // machine (a CI run once measured 1.8 between two equal comparisons).
      expect(median(unknown) / median(wrong)).toBeGreaterThan(0.25);
      expect(median(unknown) / median(wrong)).toBeLessThan(4);
      const lines = warn.mock.calls.map((call) => String(call[0])).filter((line) => line.startsWith('Failed sign-in'));
      expect(lines.length).toBeGreaterThanOrEqual(10);
      expect(lines.find((line) => line.includes(user.username))).toMatch(/from (::ffff:)?127\.0\.0\.1|from ::1/);
      for (const line of lines) expect(line).not.toContain('Secret-Guess-42');
    } finally {
      warn.mockRestore();
    }
  });

  it('ends a session unused for SESSION_TTL_DAYS, and moves last_used_at at most once a minute', async () => {
    const user = await createUser(app);
    const token = await signIn(user);
    const id = await sessionIdOf(token);
    const lastUsed = async () =>
      (await db.query('SELECT last_used_at FROM sessions WHERE id = $1', [id]))[0]?.last_used_at as Date | undefined;

    await db.query(`UPDATE sessions SET last_used_at = now() - interval '30 seconds' WHERE id = $1`, [id]);
    const recent = await lastUsed();
    await works(token, user);
    expect(await lastUsed()).toEqual(recent);

    await db.query(`UPDATE sessions SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [id]);
    const stale = await lastUsed();
    await works(token, user);
    expect((await lastUsed())!.getTime()).toBeGreaterThan(stale!.getTime() + 60_000);

    await db.query(`UPDATE sessions SET last_used_at = now() - interval '89 days' WHERE id = $1`, [id]);
    await works(token, user);
    await db.query(`UPDATE sessions SET last_used_at = now() - interval '91 days' WHERE id = $1`, [id]);
    await refused(token, user);
    expect(await lastUsed()).toBeUndefined(); // deleted on that lookup

    // And in bulk: the periodic sweep deletes every expired session at once.
    const other = await signIn(user);
    const otherId = await sessionIdOf(other);
    await db.query(`UPDATE sessions SET last_used_at = now() - interval '100 days' WHERE id = $1`, [otherId]);
    expect(await app.get(SessionsService).deleteExpired()).toBeGreaterThanOrEqual(1);
    expect(await db.query('SELECT id FROM sessions WHERE id = $1', [otherId])).toEqual([]);
    await works(user.token, user);
  });
});

describe('the Sessions migration', () => {
  it('keeps the tokens of users signed in before it working, and stores only their digests', async () => {
    const runUrl = process.env[TEST_DATABASE_URL_VARIABLE]!;
    const serverUrl = withDatabase(runUrl, 'postgres');
    const name = `${new URL(runUrl).pathname.slice(1)}_sessions_migration_${process.pid}`;
    await ensureDatabase(serverUrl, name);
    const url = withDatabase(runUrl, name);
    let app: NestExpressApplication | undefined;
    try {
      // The schema as it was just before: every migration up to Sessions, not including it.
      const before = migrations.slice(0, migrations.indexOf(Sessions1795500000000));
      const old = await new DataSource({ ...dataSourceOptions(url), migrations: before }).initialize();
      try {
        await old.runMigrations({ transaction: 'each' });
      } finally {
        await old.destroy();
      }
      const client = new Client({ connectionString: url });
      await client.connect();
      const token = 'pre-sessions-token-0123456789abcdefABCDEF_-';
      let userId: number;
      try {
        const { rows } = await client.query(
          `INSERT INTO users (username, email, encrypted_password, authentication_token)
           VALUES ('legacy', 'legacy@example.com', 'not-a-password-hash', $1) RETURNING id`,
          [token],
        );
        userId = rows[0].id;
      } finally {
        await client.end();
      }

      await runMigrations(url, { queueOnPostgres: true });
      app = await createTestApp(testEnv({ DATABASE_URL: url, AUTH_RATE_LIMIT: '0' }));
      await api(app).get(`/api/users/${userId}.json`).set(bearer(token)).expect(200);
      const sessions = await api(app).get('/api/sessions.json').set(bearer(token)).expect(200);
      expect(sessions.body).toEqual([expect.objectContaining({ current: true, user_agent: null, ip: null })]);
      const [{ count }] = await app
        .get(DataSource)
        .query(
          `SELECT count(*)::int AS count FROM sessions s, users u WHERE s::text LIKE '%' || $1 || '%' OR u::text LIKE '%' || $1 || '%'`,
          [token],
        );
      expect(count).toBe(0);
      await api(app).get(`/api/users/${userId}.json`).set(bearer('pre-sessions-token-wrong')).expect(401);
    } finally {
      await app?.close();
      await dropDatabase(serverUrl, name);
    }
  });
});
