import { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { unique } from './utils/factories';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, testEnv } from './utils/test-app';

/**
 * The first account to sign up on an installation becomes the admin. "First" needs
 * a database of its own: the run's shared one has other suites' users.
 */
describe('the first sign-up on an installation', () => {
  const signUp = (app: NestExpressApplication, username = unique('first')) =>
    api(app)
      .post('/api/users.json')
      .send({ username, email: `${username}@example.com`, password: 'password123' });

  async function withFreshInstallation(
    name: string,
    env: Record<string, string | undefined>,
    test: (app: NestExpressApplication, databaseUrl: string) => Promise<void>,
  ): Promise<void> {
    const database = await createSuiteDatabase(`${name}_${process.pid}`);
    const app = await createTestApp(testEnv({ DATABASE_URL: database.url, ...env }));
    try {
      await test(app, database.url);
    } finally {
      await app.close();
      await database.drop();
    }
  }

  async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !(await condition());) {
      if (Date.now() > deadline) throw new Error(`Still waiting after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const admins = async (app: NestExpressApplication): Promise<string[]> =>
    (await app.get(DataSource).query('SELECT username FROM users WHERE admin ORDER BY id')).map(
      (row: { username: string }) => row.username,
    );

  it('makes the first account the admin, and no later one', () =>
    withFreshInstallation('first_admin', { ADMIN_TOKEN: undefined }, async (app) => {
      const first = await signUp(app).expect(201);
      expect(first.body.admin).toBe(true);
      const second = await signUp(app).expect(201);
      expect(second.body.admin).toBe(false);
      expect(await admins(app)).toEqual([first.body.username]);

      // The first account can do what only an admin can: grant admin.
      await api(app)
        .put(`/api/users/${second.body.id}.json`)
        .set(bearer(first.body.authentication_token))
        .send({ admin: true })
        .expect(200);
      const list = await api(app).get('/api/users.json').set(bearer(second.body.authentication_token)).expect(200);
      expect(list.body).toHaveLength(2);

      // Once the installation has accounts, losing its admins hands admin to no newcomer.
      await api(app)
        .put(`/api/users/${second.body.id}.json`)
        .set(bearer(second.body.authentication_token))
        .send({ admin: false })
        .expect(200);
      await api(app).delete(`/api/users/${first.body.id}.json`).set(bearer(first.body.authentication_token)).expect(200);
      expect(await admins(app)).toEqual([]);
      const stranger = await signUp(app).expect(201);
      expect(stranger.body.admin).toBe(false);
    }));

  it('makes exactly one of several concurrent first sign-ups the admin', () =>
    withFreshInstallation('first_admin_race', { ADMIN_TOKEN: undefined }, async (app, databaseUrl) => {
      // Left alone, sign-ups rarely meet (bcrypt spaces them out). To make them race for sure, a
      // table lock that lets reads through but holds every insert back keeps them all in flight:
      // without the sign-ups' own lock, each would look for an admin, find none, then wait here
      // (and all four became admins when that lock was taken out).
      const blocker = new Client({ connectionString: databaseUrl });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE users IN SHARE MODE');
        const pending = Array.from({ length: 4 }, () => signUp(app).then((answer) => answer)); // then(): send them now
        // Each waits for that table lock (its insert) or, before it looks for an admin, for the lock a sign-up holds.
        // (Asked outside the blocker's transaction, which would keep seeing one snapshot of the activity.)
        await waitFor(async () => {
          const [{ waiting }] = await app.get(DataSource).query(
            `SELECT count(*)::int AS waiting FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'
                AND (query LIKE 'INSERT INTO "users"%' OR query LIKE '%pg_advisory_xact_lock%')`,
          );
          return waiting === 4;
        });
        await blocker.query('COMMIT');
        const answers = await Promise.all(pending);
        expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
        const promoted = answers.filter((answer) => answer.body.admin === true).map((answer) => answer.body.username);
        expect(promoted).toHaveLength(1);
        expect(await admins(app)).toEqual(promoted);
      } finally {
        await blocker.end();
      }
    }));

  it('promotes nobody when the server has an ADMIN_TOKEN: its holder is the admin', () =>
    withFreshInstallation('first_admin_token', {}, async (app) => {
      const first = await signUp(app).expect(201);
      expect(first.body.admin).toBe(false);
      expect(await admins(app)).toEqual([]);
    }));
});
