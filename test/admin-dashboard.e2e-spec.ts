import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { chromium, Browser, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { StorageDriver } from '../src/storage/storage.driver';
import { createAdmin, createJob, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { REDIS_SERVER, startPrivateRedis } from './utils/faults/redis-server';
import { installed, whenInstalled } from './setup/required-tools';
import { createSuiteDatabase } from './utils/suite-database';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv } from './utils/test-app';

const CHROMIUM = '/usr/bin/chromium';
const inBrowser = whenInstalled(it, CHROMIUM, existsSync(CHROMIUM), 'apt-get install chromium');
const INSTALL_REDIS = 'apt-get install redis-server';
const withRedisServer = whenInstalled(it, 'redis-server', REDIS_SERVER !== undefined, INSTALL_REDIS);

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** An error text as hostile as an error message could get: it must show as text, and run nothing. */
const HOSTILE_ERROR = `<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script> & "quotes" 'too'`;

/** The session cookie's value, from a Set-Cookie header. */
function sessionCookieIn(setCookie: string[] | string | undefined): string {
  const header = [setCookie ?? []].flat().find((line) => line.startsWith('darkroom_session='));
  if (!header) throw new Error(`No session cookie in ${JSON.stringify(setCookie)}`);
  return header.split(';')[0];
}

const csrfIn = (html: string) => /<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1];

describe.each(availableBackends())('the admin queue dashboard, queue on $name', (backend) => {
  let database: { url: string; drop(): Promise<void> };
  let env: TestEnv;
  let app: NestExpressApplication;
  let worker: INestApplicationContext | undefined;
  let base: string;
  let admin: TestUser;
  let user: TestUser;

  beforeAll(async () => {
    // A database of its own: the page's counts cover every job of the installation.
    database = await createSuiteDatabase(`dashboard_${backend.name}_${process.pid}`);
    env = testEnv({ DATABASE_URL: database.url, REDIS_URL: backend.redisUrl, TRUST_PROXY: 'loopback' });
    app = await createTestApp(env);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    admin = await createAdmin(app);
    user = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await database?.drop();
  });

  const signIn = async (who: TestUser, headers: Record<string, string> = {}) => {
    const response = await api(app)
      .post('/api/sessions.json')
      .set(headers)
      .send({ username: who.username, password: who.password, cookie: true })
      .expect(200);
    return { response, cookie: sessionCookieIn(response.headers['set-cookie']) };
  };
  const page = (cookie: string) => api(app).get('/admin/queues').set('Cookie', cookie);
  const csrfOf = async (cookie: string) => csrfIn((await page(cookie)).text)!;
  const read = async (id: number) => (await api(app).get(`/api/jobs/${id}.json`).set(bearer(ADMIN_TOKEN)).expect(200)).body;
  const until = async (id: number, status: string) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const job = await read(id);
      if (job.status === status) return job;
      if (Date.now() > deadline) throw new Error(`Job ${id} is still ${job.status}: ${JSON.stringify(job)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it('signs in with an HttpOnly, SameSite=Strict cookie for /admin only, Secure over https, and answers no token', async () => {
    const { response, cookie } = await signIn(admin);
    expect(response.body).toMatchObject({ id: admin.id, username: admin.username, admin: true });
    expect(response.body).not.toHaveProperty('authentication_token');
    const attributes = [response.headers['set-cookie']].flat()[0].split(/;\s*/);
    expect(attributes).toEqual(
      expect.arrayContaining(['Path=/admin', 'HttpOnly', 'SameSite=Strict', expect.stringMatching(/^Max-Age=7776000$/)]),
    );
    expect(attributes).not.toContain('Secure');

    const https = await signIn(admin, { 'X-Forwarded-Proto': 'https' });
    expect([https.response.headers['set-cookie']].flat()[0].split(/;\s*/)).toContain('Secure');

    // The cookie is no credential for the API, even sent there by hand.
    await api(app).get(`/api/users/${admin.id}.json`).set('Cookie', cookie).expect(401);
    // Without "cookie" sign-in is as before: a bearer token, no cookie.
    const plain = await api(app).post('/api/sessions.json').send({ username: admin.username, password: admin.password }).expect(200);
    expect(plain.body.authentication_token).toEqual(expect.any(String));
    expect(plain.headers['set-cookie']).toBeUndefined();
    await api(app).post('/api/sessions.json').send({ username: admin.username, password: admin.password, cookie: 'yes' }).expect(422);
  });

  it('shows the page to an admin, the sign-in form to nobody, and 403 to a user; bearer tokens work as anywhere', async () => {
    const anonymous = await api(app).get('/admin/queues').expect(401);
    expect(anonymous.headers['content-type']).toMatch(/^text\/html/);
    expect(anonymous.text).toContain('<form id="sign-in">');
    expect(anonymous.text).toContain('You are not signed in.');
    const ended = await page('darkroom_session=not-a-session').expect(401);
    expect(ended.text).toContain('Your session has ended: sign in again');

    const forbidden = await page((await signIn(user)).cookie).expect(403);
    expect(forbidden.headers['content-type']).toMatch(/^text\/html/);
    expect(forbidden.text).toContain('Only an admin may use the queue dashboard');
    expect(forbidden.text).toContain('id="sign-out"');

    const shown = await page((await signIn(admin)).cookie).expect(200);
    expect(shown.headers['content-type']).toMatch(/^text\/html/);
    expect(shown.headers['cache-control']).toBe('no-store');
    expect(shown.headers['content-security-policy']).toContain("script-src 'self'");
    expect(shown.text).toContain('<table id="queue-counts">');
    expect(shown.text).toContain(`Signed in as ${admin.username}`);
    expect(csrfIn(shown.text)).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const byToken = await api(app).get('/admin/queues').set(bearer(ADMIN_TOKEN)).expect(200);
    expect(byToken.text).toContain('Signed in as ADMIN_TOKEN');
    expect(csrfIn(byToken.text)).toBeUndefined();
    await api(app).get('/admin/queues').set(bearer(user.token)).expect(403);

    const script = await api(app).get('/admin/queues/dashboard.js').expect(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
  });

  it('refuses a cookie-authenticated POST without its CSRF token or from another origin; a bearer request needs neither', async () => {
    const image = await createStoredImage(app, user, 'coffee.png');
    // No worker runs yet: the job stays queued.
    const job = await createJob(app, user, { image_id: image.id, job_type: 'invert' });
    const { cookie } = await signIn(admin);
    const csrf = await csrfOf(cookie);
    const cancel = () => api(app).post(`/admin/queues/jobs/${job.id}/cancel`).set('Cookie', cookie);

    const missing = await cancel().expect(403);
    expect(missing.body.error).toMatch(/^Missing or wrong CSRF token/);
    const othersToken = await csrfOf((await signIn(admin)).cookie);
    await cancel().set('X-CSRF-Token', othersToken).expect(403);
    const crossSite = await cancel().set('X-CSRF-Token', csrf).set('Origin', 'https://evil.example').expect(403);
    expect(crossSite.body.error).toBe('Cross-origin request refused: Origin https://evil.example is not this server');
    expect((await read(job.id)).status).toBe('queued');

    const cancelled = await cancel().set('X-CSRF-Token', csrf).set('Origin', base).expect(200);
    expect(cancelled.body).toMatchObject({ id: job.id, status: 'cancelled' });
    await cancel().set('X-CSRF-Token', csrf).expect(409);

    // Bearer requests carry no ambient credential: no CSRF token, cookie or not.
    const retried = await api(app).post(`/admin/queues/jobs/${job.id}/retry`).set(bearer(ADMIN_TOKEN)).expect(200);
    expect(retried.body.status).toBe('queued');
    await api(app).post(`/api/jobs/${job.id}/cancel`).set(bearer(user.token)).set('Cookie', cookie).expect(200);
    await api(app).post(`/admin/queues/jobs/${job.id}/retry`).set(bearer(user.token)).expect(403);
    await api(app).post('/admin/queues/jobs/abc/retry').set(bearer(ADMIN_TOKEN)).expect(404);
  });

  it('pauses and resumes a queue from the page: a POST of its own, with the cookie and CSRF token, as the job buttons', async () => {
    const { cookie } = await signIn(admin);
    const csrf = await csrfOf(cookie);
    const post = (path: string) => api(app).post(path).set('Cookie', cookie);
    const row = async () => /<tr data-queue="query">.*?<\/tr>/s.exec((await page(cookie).expect(200)).text)![0];
    expect(await row()).toContain(
      '<td data-paused="false">Running <button type="button" data-action="/admin/queues/query/pause">Pause</button>',
    );

    await post('/admin/queues/query/pause').expect(403);
    const paused = await post('/admin/queues/query/pause').set('X-CSRF-Token', csrf).set('Origin', base).expect(200);
    expect(paused.body).toMatchObject({ name: 'query', paused: true, pending: 0, waiting: 0, running: 0 });
    expect(await row()).toContain('data-action="/admin/queues/query/resume">Resume</button>');
    const listed = await api(app).get('/api/queues.json').set(bearer(ADMIN_TOKEN)).expect(200);
    expect(listed.body.find((queue: { name: string }) => queue.name === 'query').paused).toBe(true);

    await api(app).post('/admin/queues/query/resume').set(bearer(user.token)).expect(403);
    const unknown = await post('/admin/queues/nope/resume').set('X-CSRF-Token', csrf).expect(404);
    expect(unknown.body.error).toBe('No queue named "nope": the queues are process, query, search');
    const resumed = await post('/admin/queues/query/resume').set('X-CSRF-Token', csrf).expect(200);
    expect(resumed.body).toMatchObject({ name: 'query', paused: false });
    expect(await row()).toContain('<td data-paused="false">Running');
  });

  it('escapes what it shows', async () => {
    const image = await createStoredImage(app, user, 'coffee.png');
    const job = await createJob(app, user, { image_id: image.id, job_type: 'invert' });
    await api(app).delete(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200);
    expect(await read(job.id)).toMatchObject({ status: 'failed' });
    // As if a worker had recorded it: the page must show any error text as text.
    await app.get(DataSource).query('UPDATE jobs SET error = $2 WHERE id = $1', [job.id, HOSTILE_ERROR]);
    const { text } = await api(app).get('/admin/queues').set(bearer(ADMIN_TOKEN)).expect(200);
    expect(text).toContain(
      '&lt;img src=x onerror=&quot;window.__xss = 1&quot;&gt;&lt;script&gt;window.__xss = 2&lt;/script&gt; &amp; &quot;quotes&quot; &#39;too&#39;',
    );
    expect(text).not.toContain('<img');
    expect(text.match(/<script/g)).toHaveLength(1);
  });

  it('signs out: the session ends and the cookie is cleared, once the CSRF token comes with it', async () => {
    const { cookie } = await signIn(admin);
    const csrf = await csrfOf(cookie);
    await api(app).post('/admin/queues/sign-out').set('Cookie', cookie).expect(403);
    const out = await api(app).post('/admin/queues/sign-out').set('Cookie', cookie).set('X-CSRF-Token', csrf).expect(200);
    expect(out.body).toEqual({ signed_out: true });
    expect([out.headers['set-cookie']].flat()[0]).toMatch(/^darkroom_session=; Path=\/admin; Expires=Thu, 01 Jan 1970/);
    await page(cookie).expect(401);
  });

  inBrowser(
    'in Chromium: an admin signs in, sees the counts and the failed job’s error, Retry runs it to completed, Cancel takes a queued job off',
    async () => {
      worker = await startTestWorker(env);
      const storage = app.get(StorageDriver);
      const image = await createStoredImage(app, user, 'coffee.png');
      await storage.delete(image.s3_key);
      const job = await createJob(app, user, { image_id: image.id, job_type: 'invert' });
      const failed = await until(job.id, 'failed');
      expect(failed.error).toBe(
        `The file of source image ${image.id} is missing from storage; upload it again (PUT /api/images/${image.id}/file)`,
      );
      // The file is back: a retry can now succeed.
      await storage.put(image.s3_key, fixture('coffee.png'), 'image/png');

      const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const tab: Page = await (await browser.newContext()).newPage();
        const cspViolations: string[] = [];
        tab.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
        });
        const dialogs: string[] = [];
        tab.on('dialog', (dialog) => {
          dialogs.push(dialog.message());
          void dialog.dismiss();
        });
        const signInAs = async (who: TestUser) => {
          await tab.fill('#login', who.username);
          await tab.fill('#password', who.password);
          await Promise.all([tab.waitForNavigation(), tab.click('#sign-in button[type="submit"]')]);
        };
        const count = (queue: string, name: string) => tab.textContent(`tr[data-queue="${queue}"] td[data-count="${name}"]`);

        expect((await tab.goto(`${base}/admin/queues`))!.status()).toBe(401);
        await signInAs(user);
        expect(await tab.textContent('body')).toContain('Only an admin may use the queue dashboard');
        await Promise.all([tab.waitForNavigation(), tab.click('#sign-out')]);
        await signInAs(admin);

        await tab.waitForSelector('#queue-counts');
        // The search queue has no jobs here: its pause is only shown, and flipped back.
        await Promise.all([tab.waitForNavigation(), tab.click('tr[data-queue="search"] button[data-action$="/pause"]')]);
        expect(await tab.textContent('tr[data-queue="search"] td[data-paused="true"]')).toContain('Paused');
        await Promise.all([tab.waitForNavigation(), tab.click('tr[data-queue="search"] button[data-action$="/resume"]')]);
        expect(await tab.$('tr[data-queue="search"] td[data-paused="false"]')).not.toBeNull();
        expect(await count('process', 'jobs.failed')).toBe('2');
        expect(await count('process', 'jobs.cancelled')).toBe('1');
        expect(await count('process', 'jobs.completed')).toBe('0');
        expect(await count('process', 'entries.failed')).toBe('1');
        expect(await count('query', 'jobs.failed')).toBe('0');
        const row = `#ended-jobs tr[data-job="${job.id}"]`;
        expect(await tab.textContent(`${row} .error`)).toBe(failed.error);
        expect(await tab.textContent(row)).toContain(user.username);
        expect(await tab.textContent('#ended-jobs')).toContain(HOSTILE_ERROR);
        expect(await tab.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
        await tab.screenshot({ path: '/tmp/dashboard.png', fullPage: true });

        // The real browser holds the cookie; without the page's token its POST is refused.
        const forged = await tab.evaluate(async (id) => (await fetch(`/admin/queues/jobs/${id}/retry`, { method: 'POST' })).status, job.id);
        expect(forged).toBe(403);

        await Promise.all([tab.waitForNavigation(), tab.click(`${row} button[data-action$="/retry"]`)]);
        expect(await until(job.id, 'completed')).toMatchObject({ error: null, outputs: [expect.any(Number)] });
        await tab.reload();
        expect(await tab.$(row)).toBeNull();
        expect(await count('process', 'jobs.completed')).toBe('1');
        expect(await count('process', 'jobs.failed')).toBe('1');

        // With no worker up, a new job waits in the queue: the page's Cancel takes it off.
        await worker.close();
        worker = undefined;
        const waiting = await createJob(app, user, { image_id: image.id, job_type: 'grayscale' });
        await tab.reload();
        expect(await count('process', 'jobs.queued')).toBe('1');
        const queuedRow = `#jobs-in-progress tr[data-job="${waiting.id}"]`;
        await Promise.all([tab.waitForNavigation(), tab.click(`${queuedRow} button[data-action$="/cancel"]`)]);
        expect(await read(waiting.id as number)).toMatchObject({ status: 'cancelled' });
        expect(await tab.$(queuedRow)).toBeNull();
        expect(await tab.textContent(`#ended-jobs tr[data-job="${waiting.id}"]`)).toContain('cancelled');
        expect(dialogs).toEqual([]);
        expect(cspViolations).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    120_000,
  );
});

describe('the admin queue dashboard while Redis is down', () => {
  withRedisServer(
    'still answers, with the queues unavailable and the database’s counts, and shows the queues again once Redis is back',
    async () => {
      const redis = installed(await startPrivateRedis(), 'redis-server', INSTALL_REDIS);
      const database = await createSuiteDatabase(`dashboard_redis_down_${process.pid}`);
      const app = await createTestApp(testEnv({ DATABASE_URL: database.url, REDIS_URL: redis.url }));
      const show = async () => (await api(app).get('/admin/queues').set(bearer(ADMIN_TOKEN)).expect(200)).text;
      try {
        expect(await show()).toContain('data-count="entries.waiting">0<');
        await redis.stop();
        const down = await show();
        expect(down).toContain('Queue unavailable: The process queue did not answer within 3 s');
        expect(down).not.toContain('data-count="entries.');
        expect(down).toContain('data-count="jobs.failed">0<');
        await redis.start();
        const deadline = Date.now() + 30_000;
        while (!(await show()).includes('data-count="entries.waiting">0<')) {
          if (Date.now() > deadline) throw new Error('The queues stayed unavailable after Redis was back');
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } finally {
        await app.close();
        await redis.close();
        await database.drop();
      }
    },
    90_000,
  );
});
