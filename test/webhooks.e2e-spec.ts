import { createSuiteDatabase } from './utils/suite-database';
import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createStoredImage, createUser, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { sleep } from './utils/faults/processes';
import { MetricsRegistry } from '../src/metrics/metrics-registry';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on 127.0.0.1: records every request, and answers each path's scripted statuses in turn (then 200). */
class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, number[]>();
  private server: Server;

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '';
        this.received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.statusCode = this.scripts.get(path)?.shift() ?? 200;
        response.end('thanks');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  url(path: string, ...statuses: number[]): string {
    this.scripts.set(path, statuses);
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  at(path: string): Received[] {
    return this.received.filter((request) => request.path === path);
  }

  async waitFor(path: string, count: number): Promise<Received[]> {
    const deadline = Date.now() + 30_000;
    while (this.at(path).length < count) {
      if (Date.now() > deadline) throw new Error(`${path} received ${this.at(path).length} request(s), not ${count}`);
      await sleep(50);
    }
    return this.at(path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const headersOf = (request: Received) => request.headers as Record<string, string>;

/** A delivered job as GET /api/jobs/:id.json answers it: the same JSON, and no place in a queue once it has ended. */
const delivered = (body: unknown) => ({ ...(body as object), ahead: null, estimated_start_at: null });

async function makeSecret(app: NestExpressApplication, user: TestUser, token = user.token): Promise<Record<string, any>> {
  return (await api(app).post(`/api/users/${user.id}/webhook_secret`).set(bearer(token)).expect(201)).body;
}

describe.each(availableBackends())('signed webhooks, queue on $name', (backend) => {
  let app: NestExpressApplication;
  let env: TestEnv;
  let worker: INestApplicationContext | undefined;
  let receiver: Receiver;
  let ada: TestUser;
  let grace: TestUser;
  let image: number;
  let secret: string;

  const deliveriesOf = async (jobId: number, owner: TestUser, until: (deliveries: any[]) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { body } = await api(app).get(`/api/jobs/${jobId}/deliveries.json`).set(bearer(owner.token)).expect(200);
      if (until(body)) return body as any[];
      if (Date.now() > deadline) throw new Error(`Deliveries of job ${jobId}: ${JSON.stringify(body)}`);
      await sleep(100);
    }
  };

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.start();
    // Each queue backend on an installation of its own: no work done on the other to reuse.
    env = testEnv({
      DATABASE_URL: (await createSuiteDatabase(backend.name)).url,
      REDIS_URL: backend.redisUrl,
      ALLOW_HTTP_WEBHOOKS: 'true',
      ALLOW_PRIVATE_WEBHOOKS: 'true',
      WEBHOOK_RETRY_BASE_MS: '300',
      RECONCILE_INTERVAL: '1',
    });
    app = await createTestApp(env);
    ada = await createUser(app);
    grace = await createUser(app);
    image = (await createStoredImage(app, ada)).id;
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await receiver?.close();
  });

  it('shows a new secret once, to the user themself or an admin, and needs one before a job takes a callback_url', async () => {
    const made = await makeSecret(app, ada);
    expect(made).toEqual({
      user_id: ada.id,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+={0,2}$/),
      previous_secret_valid_until: null,
    });
    secret = made.secret;
    const { body: user } = await api(app).get(`/api/users/${ada.id}.json`).set(bearer(ada.token)).expect(200);
    expect(JSON.stringify(user)).not.toContain(secret.slice(6));

    const { body: refused } = await api(app).post(`/api/users/${ada.id}/webhook_secret`).set(bearer(grace.token)).expect(404);
    expect(refused.error).toBe(`No user with id ${ada.id}`);
    await api(app).post('/api/users/999999999/webhook_secret').set(bearer(ADMIN_TOKEN)).expect(404);

    const graceImage = (await createStoredImage(app, grace)).id;
    const { body: noSecret } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(grace.token))
      .send({ image_id: graceImage, job_type: ['grayscale'], callback_url: receiver.url('/grace') })
      .expect(422);
    expect(noSecret.details).toEqual([
      { field: 'callback_url', message: expect.stringContaining(`User ${grace.id} has no webhook secret to sign deliveries with`) },
    ]);
  });

  it('takes callback_url on create and on PUT of a queued job, and announces ends made while no worker ran', async () => {
    // No worker yet: jobs stay queued; one is cancelled through the API, the other expires (the
    // API's reconciler fails it), both with nobody listening for their deliveries.
    const { body: job } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: image, job_type: ['grayscale'] })
      .expect(201);
    expect(job.callback_url).toBeNull();
    const { body: bad } = await api(app)
      .put(`/api/jobs/${job.id}.json`)
      .set(bearer(ada.token))
      .send({ callback_url: 'ftp://127.0.0.1/x' })
      .expect(422);
    expect(bad.details).toEqual([{ field: 'callback_url', message: 'callback_url must be an absolute https:// URL' }]);
    const { body: typed } = await api(app).put(`/api/jobs/${job.id}.json`).set(bearer(ada.token)).send({ callback_url: 42 }).expect(422);
    expect(typed.details).toEqual([{ field: 'callback_url', message: 'callback_url must be a URL string' }]);
    const url = receiver.url('/cancelled');
    const { body: updated } = await api(app).put(`/api/jobs/${job.id}.json`).set(bearer(ada.token)).send({ callback_url: url }).expect(200);
    expect(updated.callback_url).toBe(url);
    const { body: removed } = await api(app)
      .put(`/api/jobs/${job.id}.json`)
      .set(bearer(ada.token))
      .send({ callback_url: null })
      .expect(200);
    expect(removed.callback_url).toBeNull();
    await api(app).put(`/api/jobs/${job.id}.json`).set(bearer(ada.token)).send({ callback_url: url }).expect(200);
    const { body: cancelled } = await api(app).post(`/api/jobs/${job.id}/cancel`).set(bearer(ada.token)).expect(200);
    expect(cancelled.status).toBe('cancelled');

    const { body: expiring } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: image, job_type: ['grayscale'], ttl: 1, callback_url: receiver.url('/expired') })
      .expect(201);
    const expired = await waitForJob(app, ada.token, expiring.id);
    expect(expired.error).toMatch(/^Expired/);

    const [pending] = await deliveriesOf(job.id, ada, (deliveries) => deliveries.length === 1);
    expect(pending).toMatchObject({ event: 'job.cancelled', url, status: 'pending', attempts: [] });
    const [expiredDelivery] = await deliveriesOf(expired.id, ada, (deliveries) => deliveries.length === 1);
    expect(expiredDelivery).toMatchObject({ event: 'job.failed', status: 'pending' });
    expect(receiver.received).toHaveLength(0);

    worker = await startTestWorker(env);
    const [request] = await receiver.waitFor('/cancelled', 1);
    const { body: current } = await api(app).get(`/api/jobs/${job.id}.json`).set(bearer(ada.token)).expect(200);
    expect(delivered(new Webhook(secret).verify(request.body, headersOf(request)))).toEqual(current);
    expect(request.headers['webhook-id']).toBe(pending.id);
    expect(request.headers['content-type']).toBe('application/json');
    const [expiredRequest] = await receiver.waitFor('/expired', 1);
    expect(delivered(new Webhook(secret).verify(expiredRequest.body, headersOf(expiredRequest)))).toEqual(expired);
    expect(expiredRequest.headers['webhook-id']).toBe(expiredDelivery.id);
  }, 60_000);

  it('POSTs the signed job JSON when the job completes, retries after a 500 with the same webhook-id, and lists each attempt', async () => {
    const url = receiver.url('/completed', 500);
    const { body: created } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: image, job_type: ['grayscale', 'histogram'], callback_url: url })
      .expect(201);
    expect(created.callback_url).toBe(url);
    const job = await waitForJob(app, ada.token, created.id);
    expect(job.status).toBe('completed');

    const [first, second] = await receiver.waitFor('/completed', 2);
    for (const request of [first, second]) {
      expect(delivered(new Webhook(secret).verify(request.body, headersOf(request)))).toEqual(job);
      expect(headersOf(request)['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    }
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    expect(Number(second.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(Number(first.headers['webhook-timestamp']));
    // Another secret does not verify it.
    expect(() => new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').verify(first.body, headersOf(first))).toThrow();

    const [delivery] = await deliveriesOf(job.id, ada, (deliveries) => deliveries[0]?.status === 'delivered');
    expect(delivery).toMatchObject({
      id: first.headers['webhook-id'],
      job_id: job.id,
      event: 'job.completed',
      url,
      status: 'delivered',
      next_attempt_at: null,
      finished_at: expect.any(String),
    });
    expect(delivery.attempts).toEqual([
      {
        attempt: 1,
        attempted_at: expect.any(String),
        duration_ms: expect.any(Number),
        outcome: 'http_error',
        status_code: 500,
        error: 'Answered HTTP 500',
      },
      {
        attempt: 2,
        attempted_at: expect.any(String),
        duration_ms: expect.any(Number),
        outcome: 'delivered',
        status_code: 200,
        error: null,
      },
    ]);
    expect(Date.parse(delivery.attempts[1].attempted_at)).toBeGreaterThan(Date.parse(delivery.attempts[0].attempted_at));

    // The worker that made the attempts counts them, for its metrics port.
    const metrics = await worker!.get(MetricsRegistry).exposition();
    expect(metrics.text).toMatch(/^darkroom_webhook_attempts_total\{outcome="http_error"\} [1-9]/m);
    expect(metrics.text).toMatch(/^darkroom_webhook_deliveries_total\{status="delivered"\} [1-9]/m);

    await api(app).get(`/api/jobs/${job.id}/deliveries.json`).set(bearer(grace.token)).expect(404);
    const { body: asAdmin } = await api(app).get(`/api/jobs/${job.id}/deliveries`).set(bearer(ADMIN_TOKEN)).expect(200);
    expect(asAdmin).toEqual([delivery]);
  }, 60_000);

  it('signs with the old and the new secret for 24 h after a rotation', async () => {
    const rotated = await makeSecret(app, ada, ADMIN_TOKEN);
    expect(rotated.secret).not.toBe(secret);
    const validUntil = Date.parse(rotated.previous_secret_valid_until);
    expect(validUntil - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(validUntil - Date.now()).toBeLessThanOrEqual(24 * 3600_000);

    const url = receiver.url('/rotated');
    const { body: created } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: image, job_type: ['grayscale'], callback_url: url })
      .expect(201);
    const job = await waitForJob(app, ada.token, created.id);
    const [request] = await receiver.waitFor('/rotated', 1);
    expect(headersOf(request)['webhook-signature'].split(' ')).toHaveLength(2);
    expect(delivered(new Webhook(rotated.secret).verify(request.body, headersOf(request)))).toEqual(job);
    expect(delivered(new Webhook(secret).verify(request.body, headersOf(request)))).toEqual(job);
    secret = rotated.secret;
  }, 60_000);
});

describe('callback URLs without ALLOW_PRIVATE_WEBHOOKS (SSRF)', () => {
  let app: NestExpressApplication;
  let ada: TestUser;
  let image: number;

  beforeAll(async () => {
    app = await createTestApp(testEnv({ ALLOW_HTTP_WEBHOOKS: 'true' }));
    ada = await createUser(app);
    image = (await createStoredImage(app, ada)).id;
    await makeSecret(app, ada);
  }, 60_000);

  afterAll(() => app?.close());

  it.each([
    ['https://127.0.0.1:9/hook', "callback_url's host 127.0.0.1 is a loopback address"],
    ['https://10.20.30.40/hook', "callback_url's host 10.20.30.40 is a private address"],
    ['https://169.254.169.254/latest/meta-data/', "callback_url's host 169.254.169.254 is a link-local address"],
    ['https://[fd00::1]/hook', "callback_url's host fd00::1 is a unique-local address"],
    ['https://[::ffff:192.168.1.1]/hook', "callback_url's host ::ffff:c0a8:101 is a private address"],
    ['https://localhost:9/hook', "callback_url's host localhost resolves to"],
    ['http://93.184.215.14/hook', 'callback_url must be an https:// URL'],
  ])('refuses %s with a 422 naming callback_url, sending nothing', async (url, message) => {
    const { body } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: image, job_type: ['grayscale'], callback_url: url })
      .expect(422);
    expect(body.details).toEqual([{ field: 'callback_url', message: expect.stringContaining(message) }]);
  });

  it('takes a receiver on this machine, http://127.0.0.1 or localhost, with ALLOW_HTTP_WEBHOOKS alone', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook']) {
      const { body } = await api(app)
        .post('/api/jobs.json')
        .set(bearer(ada.token))
        .send({ image_id: image, job_type: ['grayscale'], callback_url: url })
        .expect(201);
      expect(body.callback_url).toBe(url);
    }
  });
});

describe('webhook deliveries that fail for good', () => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext | undefined;
  let receiver: Receiver;
  let ada: TestUser;
  let image: number;
  // One attempt only: the retries of a day shrink to none.
  const env = testEnv({ ALLOW_HTTP_WEBHOOKS: 'true', ALLOW_PRIVATE_WEBHOOKS: 'true', WEBHOOK_RETRY_HOURS: '0' });

  const finishedDelivery = async (jobId: number) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { body } = await api(app).get(`/api/jobs/${jobId}/deliveries.json`).set(bearer(ada.token)).expect(200);
      if (body[0]?.finished_at) return body[0];
      if (Date.now() > deadline) throw new Error(`Deliveries of job ${jobId}: ${JSON.stringify(body)}`);
      await sleep(100);
    }
  };

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.start();
    app = await createTestApp(env);
    ada = await createUser(app);
    image = (await createStoredImage(app, ada)).id;
    await makeSecret(app, ada);
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await receiver?.close();
  });

  it('checks the URL again at delivery: a worker that allows no receiver on its machine refuses it, and sends nothing', async () => {
    worker = await startTestWorker({ ...env, ALLOW_HTTP_WEBHOOKS: 'false', ALLOW_PRIVATE_WEBHOOKS: 'false' });
    const url = receiver.url('/private');
    const { body: created } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: image, job_type: ['grayscale'], callback_url: url })
      .expect(201);
    await waitForJob(app, ada.token, created.id);
    const delivery = await finishedDelivery(created.id);
    expect(delivery).toMatchObject({ status: 'failed', next_attempt_at: null });
    expect(delivery.attempts).toEqual([
      {
        attempt: 1,
        attempted_at: expect.any(String),
        duration_ms: expect.any(Number),
        outcome: 'refused',
        status_code: null,
        error: expect.stringContaining('http:// is accepted only for localhost, 127.0.0.1 or ::1, with ALLOW_HTTP_WEBHOOKS=true'),
      },
    ]);
    expect(receiver.received).toHaveLength(0);
    await worker.close();
    worker = undefined;
  }, 60_000);

  it('gives up once WEBHOOK_RETRY_HOURS are spent', async () => {
    worker = await startTestWorker(env);
    const url = receiver.url('/down', 503, 503);
    const { body: created } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: image, job_type: ['grayscale'], callback_url: url })
      .expect(201);
    await waitForJob(app, ada.token, created.id);
    const delivery = await finishedDelivery(created.id);
    expect(delivery).toMatchObject({ status: 'failed', event: 'job.completed' });
    expect(delivery.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'http_error', status_code: 503 })]);
    expect(receiver.at('/down')).toHaveLength(1);
  }, 60_000);
});
