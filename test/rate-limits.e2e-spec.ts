import { NestExpressApplication } from '@nestjs/platform-express';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { PostgresRateLimitStorage } from '../src/rate-limits/rate-limit.storage';
import type { Response } from 'supertest';
import { createAdmin, createStoredImage, createUser, fixture, TestUser, unique } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp, testEnv, TestEnv } from './utils/test-app';

/** Issue 11: sign-in and sign-up per IP, job creation and uploads per user; on Redis and, without it, on PostgreSQL. */

const STORES: Array<[string, TestEnv]> = [
  ['PostgreSQL', {}],
  ...(process.env.REDIS_URL ? [['Redis', { REDIS_URL: process.env.REDIS_URL }] as [string, TestEnv]] : []),
];

// Each test closes the apps it started (each holds database connections); the setup apps last.
let apps: NestExpressApplication[] = [];
const setupApps: NestExpressApplication[] = [];
async function startApp(env: TestEnv): Promise<NestExpressApplication> {
  const app = await createTestApp(env);
  apps.push(app);
  return app;
}
async function startSetupApp(env: TestEnv): Promise<NestExpressApplication> {
  const app = await createTestApp(env);
  setupApps.push(app);
  return app;
}
afterEach(async () => {
  const started = apps;
  apps = [];
  await Promise.all(started.map((app) => app.close()));
});
afterAll(async () => {
  await Promise.all(setupApps.map((app) => app.close()));
});

const signIn = (app: NestExpressApplication, user: TestUser, forwardedFor?: string) => {
  const call = api(app).post('/api/sessions.json').send({ username: user.username, password: user.password });
  return forwardedFor ? call.set('X-Forwarded-For', forwardedFor) : call;
};

const signUp = (app: NestExpressApplication) => {
  const username = unique('rl');
  return api(app)
    .post('/api/users.json')
    .send({ username, email: `${username}@example.com`, password: 'password123' });
};

/** A 429 in the API's error shape, whose message and Retry-After name the same wait. */
function expectRefused(response: Response, message: RegExp): void {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(response.body).toEqual({ error: expect.stringMatching(message), details: [] });
  expect(response.body.error).toContain(`try again in ${retryAfter} s`);
}

function expectAllowed(response: Response): void {
  expect(response.status).not.toBe(429);
  expect(response.status).toBeLessThan(300);
}

const SIGN_IN_REFUSED = /^Too many sign-in attempts from this address: try again in \d+ s$/;

describe.each(STORES)('rate limits on the %s store', (_store, storeEnv) => {
  let setup: NestExpressApplication;

  beforeAll(async () => {
    // Makes the users and images the limited apps below are tried with; it limits nothing.
    setup = await startSetupApp(testEnv(storeEnv));
  });

  it('refuses the eleventh sign-in from one address in a minute with 429 and Retry-After', async () => {
    const app = await startApp(testEnv({ ...storeEnv, AUTH_RATE_LIMIT: '10' }));
    const user = await createUser(setup);
    for (let attempt = 1; attempt <= 10; attempt++) expectAllowed(await signIn(app, user));
    expectRefused(await signIn(app, user), SIGN_IN_REFUSED);
    // A wrong password spends the budget too, and is refused before it is checked.
    expectRefused(await signIn(app, { ...user, password: 'wrong' }), SIGN_IN_REFUSED);
  });

  it('counts sign-ups in the same budget as sign-ins', async () => {
    const app = await startApp(testEnv({ ...storeEnv, AUTH_RATE_LIMIT: '10' }));
    const user = await createUser(setup);
    for (let attempt = 1; attempt <= 5; attempt++) expect((await signUp(app)).status).toBe(201);
    for (let attempt = 1; attempt <= 5; attempt++) expectAllowed(await signIn(app, user));
    expectRefused(await signUp(app), SIGN_IN_REFUSED);
    expectRefused(await signIn(app, user), SIGN_IN_REFUSED);
  });

  it('limits job creation per user, counting each job; admins are exempt', async () => {
    const app = await startApp(testEnv({ ...storeEnv, JOB_RATE_LIMIT: '3' }));
    const [ada, bob] = [await createUser(setup), await createUser(setup)];
    const admin = await createAdmin(setup);
    const [adaImage, bobImage, adminImage] = [
      await createStoredImage(setup, ada),
      await createStoredImage(setup, bob),
      await createStoredImage(setup, admin),
    ];
    const createJob = (user: { token: string }, imageId: number, extra: Record<string, unknown> = {}) =>
      api(app)
        .post('/api/jobs.json')
        .set(bearer(user.token))
        .send({ image_id: imageId, job_type: 'grayscale', ...extra });

    for (let job = 1; job <= 3; job++) expect((await createJob(ada, adaImage.id)).status).toBe(201);
    const refused = await createJob(ada, adaImage.id);
    expectRefused(refused, /^Too many jobs: at most 3 a minute per user; try again in \d+ s$/);
    // Another user has a budget of their own.
    expect((await createJob(bob, bobImage.id)).status).toBe(201);
    // An admin, and the ADMIN_TOKEN holder, are not limited.
    for (let job = 1; job <= 5; job++) expect((await createJob(admin, adminImage.id)).status).toBe(201);
    for (let job = 1; job <= 5; job++) {
      expect((await createJob({ token: ADMIN_TOKEN }, adminImage.id, { user_id: admin.id })).status).toBe(201);
    }
  });

  it('limits uploads per user across the three upload routes, not bare image records; admins are exempt', async () => {
    const app = await startApp(testEnv({ ...storeEnv, UPLOAD_RATE_LIMIT: '3' }));
    const ada = await createUser(setup);
    const admin = await createAdmin(setup);
    const image = await createStoredImage(setup, ada);
    const adminImage = await createStoredImage(setup, admin);
    const putFile = (token: string, imageId: number) =>
      api(app).put(`/api/images/${imageId}/file`).set(bearer(token)).set('Content-Type', 'image/png').send(fixture('astronaut.png'));

    expect((await putFile(ada.token, image.id)).status).toBe(200);
    const multipart = await api(app)
      .post('/api/images.json')
      .set(bearer(ada.token))
      .attach('file', fixture('astronaut.png'), 'astronaut.png');
    expect(multipart.status).toBe(201);
    // Local storage has no presigned URLs, but asking for one spends an upload all the same.
    expect((await api(app).post(`/api/images/${image.id}/upload_url`).set(bearer(ada.token)).send({})).status).not.toBe(429);
    // A record without a file is not an upload.
    expect((await api(app).post('/api/images.json').set(bearer(ada.token)).send({})).status).toBe(201);

    expectRefused(await putFile(ada.token, image.id), /^Too many uploads: at most 3 a minute per user; try again in \d+ s$/);
    expectRefused(
      await api(app).post('/api/images.json').set(bearer(ada.token)).attach('file', fixture('astronaut.png'), 'astronaut.png'),
      /^Too many uploads/,
    );
    for (let upload = 1; upload <= 4; upload++) expect((await putFile(admin.token, adminImage.id)).status).toBe(200);
    for (let upload = 1; upload <= 4; upload++) expect((await putFile(ADMIN_TOKEN, adminImage.id)).status).toBe(200);
  });
});

describe('rate limits: settings', () => {
  let setup: NestExpressApplication;

  beforeAll(async () => {
    setup = await startSetupApp(testEnv());
  });

  it('0 turns a limit off', async () => {
    const app = await startApp(testEnv({ AUTH_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0' }));
    const user = await createUser(setup);
    const image = await createStoredImage(setup, user);
    for (let attempt = 1; attempt <= 15; attempt++) expectAllowed(await signIn(app, user));
    for (let upload = 1; upload <= 5; upload++) {
      const response = await api(app)
        .put(`/api/images/${image.id}/file`)
        .set(bearer(user.token))
        .set('Content-Type', 'image/png')
        .send(fixture('astronaut.png'));
      expect(response.status).toBe(200);
    }
  });

  it('with TRUST_PROXY on, X-Forwarded-For decides the address: two forwarded addresses have two budgets', async () => {
    const app = await startApp(testEnv({ AUTH_RATE_LIMIT: '2', TRUST_PROXY: 'true' }));
    const user = await createUser(setup);
    expectAllowed(await signIn(app, user, '203.0.113.7'));
    expectAllowed(await signIn(app, user, '203.0.113.7'));
    expectRefused(await signIn(app, user, '203.0.113.7'), SIGN_IN_REFUSED);
    expectAllowed(await signIn(app, user, '203.0.113.8'));
    expectAllowed(await signIn(app, user, '198.51.100.1, 203.0.113.9'));
  });

  it('with TRUST_PROXY off (the default), X-Forwarded-For is ignored', async () => {
    const app = await startApp(testEnv({ AUTH_RATE_LIMIT: '2' }));
    const user = await createUser(setup);
    expectAllowed(await signIn(app, user, '203.0.113.7'));
    expectAllowed(await signIn(app, user, '203.0.113.8'));
    expectRefused(await signIn(app, user, '203.0.113.9'), SIGN_IN_REFUSED);
    expectRefused(await signIn(app, user), SIGN_IN_REFUSED);
  });
});

const describeOnRedis = process.env.REDIS_URL ? describe : describe.skip;

describeOnRedis('rate limits on Redis, across API processes', () => {
  it('two API instances on one Redis share one count', async () => {
    const env = testEnv({ REDIS_URL: process.env.REDIS_URL, AUTH_RATE_LIMIT: '10' });
    const [first, second] = [await startApp(env), await startApp(env)];
    const user = await createUser(await startApp(testEnv({ REDIS_URL: process.env.REDIS_URL })));
    for (let attempt = 1; attempt <= 5; attempt++) expectAllowed(await signIn(first, user));
    for (let attempt = 1; attempt <= 5; attempt++) expectAllowed(await signIn(second, user));
    expectRefused(await signIn(first, user), SIGN_IN_REFUSED);
    expectRefused(await signIn(second, user), SIGN_IN_REFUSED);
    // The count lives under QUEUE_PREFIX and the installation id, beside that installation's queues.
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const keys = await redis.keys(`${env.QUEUE_PREFIX}:*`);
      expect(keys.filter((key) => key.includes(':rate-limit:')).sort()).toEqual([
        expect.stringMatching(new RegExp(`^${env.QUEUE_PREFIX}:[^:]+:rate-limit:\\{auth:ip:[^}]+\\}:blocked$`)),
        expect.stringMatching(new RegExp(`^${env.QUEUE_PREFIX}:[^:]+:rate-limit:\\{auth:ip:[^}]+\\}:hits$`)),
      ]);
    } finally {
      redis.disconnect();
    }
  });

  it('another installation prefix on the same Redis keeps its own count', async () => {
    const limited = testEnv({ REDIS_URL: process.env.REDIS_URL, AUTH_RATE_LIMIT: '2' });
    const [app, neighbour] = [await startApp(limited), await startApp({ ...limited, QUEUE_PREFIX: `${limited.QUEUE_PREFIX}b` })];
    const someone = await createUser(await startApp(testEnv({ REDIS_URL: process.env.REDIS_URL })));
    expectAllowed(await signIn(app, someone));
    expectAllowed(await signIn(app, someone));
    expectRefused(await signIn(app, someone), SIGN_IN_REFUSED);
    expectAllowed(await signIn(neighbour, someone));
  });
});

describe('rate limits on PostgreSQL (no Redis), across API processes', () => {
  it('two API instances on one database share one count', async () => {
    const env = testEnv({ AUTH_RATE_LIMIT: '10' });
    const [first, second] = [await startApp(env), await startApp(env)];
    const user = await createUser(await startApp(testEnv()));
    for (let attempt = 1; attempt <= 5; attempt++) expectAllowed(await signIn(first, user));
    for (let attempt = 1; attempt <= 5; attempt++) expectAllowed(await signIn(second, user));
    expectRefused(await signIn(first, user), SIGN_IN_REFUSED);
    expectRefused(await signIn(second, user), SIGN_IN_REFUSED);
  });

  describe('the store', () => {
    let storage: PostgresRateLimitStorage;
    const key = () => unique('rate-limit-store');

    beforeAll(async () => {
      const app = await startSetupApp(testEnv());
      storage = new PostgresRateLimitStorage(app.get(DataSource));
    });

    it('counts a request of cost n as n hits, and blocks past the limit for the block duration', async () => {
      const k = key();
      const hit = (cost: number) => storage.increment(k, 60_000, 5, 30_000, 'jobs', cost);
      expect(await hit(3)).toMatchObject({ totalHits: 3, isBlocked: false, timeToBlockExpire: 0 });
      const full = await hit(2);
      expect(full).toMatchObject({ totalHits: 5, isBlocked: false });
      expect(full.timeToExpire).toBeGreaterThan(55);
      expect(full.timeToExpire).toBeLessThanOrEqual(60);
      const refused = await hit(1);
      expect(refused.isBlocked).toBe(true);
      expect(refused.timeToBlockExpire).toBeGreaterThan(25);
      expect(refused.timeToBlockExpire).toBeLessThanOrEqual(30);
    });

    it('refuses a batch that would overrun what is left of the budget, and a first request over it', async () => {
      const k = key();
      expect((await storage.increment(k, 60_000, 5, 60_000, 'jobs', 4)).isBlocked).toBe(false);
      expect((await storage.increment(k, 60_000, 5, 60_000, 'jobs', 2)).isBlocked).toBe(true);
      expect((await storage.increment(key(), 60_000, 5, 60_000, 'jobs', 6)).isBlocked).toBe(true);
    });

    it('starts a new window once the last one ended, and unblocks once the block ended', async () => {
      const k = key();
      const hit = () => storage.increment(k, 300, 1, 600, 'auth');
      expect(await hit()).toMatchObject({ totalHits: 1, isBlocked: false });
      expect(await hit()).toMatchObject({ totalHits: 2, isBlocked: true });
      await new Promise((resolve) => setTimeout(resolve, 350));
      // A new window, but the block outlasts it.
      expect(await hit()).toMatchObject({ totalHits: 1, isBlocked: true });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await hit()).toMatchObject({ totalHits: 1, isBlocked: false });
    });

    it('counts concurrent hits exactly', async () => {
      const k = key();
      const records = await Promise.all(Array.from({ length: 20 }, () => storage.increment(k, 60_000, 10, 60_000, 'jobs')));
      expect(records.map((record) => record.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(records.filter((record) => record.isBlocked)).toHaveLength(10);
    });
  });
});
