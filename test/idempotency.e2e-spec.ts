import { NestExpressApplication } from '@nestjs/platform-express';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { requestFingerprint } from '../src/idempotency/idempotency-key';
import { JobReconciler } from '../src/job-runs/job-reconciler';
import { createStoredImage, createUser, TestUser } from './utils/factories';
import { freePort } from '../src/common/free-port';
import { API_MAIN, sleep, startNode } from './utils/faults/processes';
import { uniquePhoto } from './utils/images';
import { backendsAndStorages, storageFor } from './utils/storages';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, testEnv, TestEnv } from './utils/test-app';

let sequence = 0;
const newKey = () => `key-${process.pid}-${Date.now().toString(36)}-${++sequence}`;

/** A multipart/form-data body with one `file` part, split where the test wants to pause sending it. */
function form(boundary: string, photo: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    photo,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

describe.each(backendsAndStorages())('Idempotency-Key, queue on $name, files on $storage', (setup) => {
  let storage: { stop(): Promise<void> } | undefined;
  let env: TestEnv;
  let app: NestExpressApplication;
  /** A second API process of the same installation. */
  let other: NestExpressApplication;
  let ada: TestUser;
  let imageId: number;

  beforeAll(async () => {
    const files = await storageFor(setup.storage, 'darkroom-idempotency');
    storage = files;
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`idempotency_${setup.label}`)).url, REDIS_URL: setup.redisUrl, ...files.env });
    app = await createTestApp(env);
    other = await createTestApp(env);
    ada = await createUser(app);
    imageId = (await createStoredImage(app, ada)).id;
  });

  // An app's close has twice outlasted jest's 30 s hook timeout in CI on the embedded PostgreSQL
  // queue, with no request in flight (bounded by SHUTDOWN_GRACE); its cause is not found yet, and
  // ShutdownWatch will name the stop hook that holds it. The suite says so and goes on, rather
  // than failing every test after.
  afterAll(async () => {
    for (const [name, target] of [
      ['the second API', other],
      ['the first API', app],
    ] as const) {
      const closed = await Promise.race([target?.close().then(() => true), sleep(20_000).then(() => false)]);
      if (!closed) console.warn(`Idempotency suite (${setup.label}): ${name} did not close within 20 s`);
    }
    await storage?.stop();
  }, 60_000);

  const postJob = (target: NestExpressApplication, key: string | undefined, body: Record<string, unknown>, user = ada) => {
    const request = api(target).post('/api/jobs.json').set(bearer(user.token));
    return (key === undefined ? request : request.set('Idempotency-Key', key)).send(body);
  };
  const jobsOfImage = async (user = ada) =>
    ((await api(app).get('/api/jobs.json?n=all').set(bearer(user.token)).expect(200)).body as { image_id: number }[]).filter(
      (job) => job.image_id === imageId,
    ).length;
  const jobsInProgress = async (user = ada) =>
    (await api(app).get('/api/users/me.json').set(bearer(user.token)).expect(200)).body.usage.jobs_in_progress as number;
  const keyRow = async (key: string) =>
    ((await app.get(DataSource).query('SELECT status, lease FROM idempotency_keys WHERE key = $1', [key])) as Record<string, unknown>[])[0];

  it('answers a retried POST /api/jobs.json as the first time, from any API process, with one job and one quota charge', async () => {
    const key = newKey();
    const body = { image_id: imageId, job_type: ['process', 'grayscale'] };
    const [jobsBefore, chargedBefore] = [await jobsOfImage(), await jobsInProgress()];
    const first = await postJob(app, key, body).expect(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await postJob(app, key, body).expect(201);
    // The same request with its keys in another order, on the other process.
    const elsewhere = await postJob(other, key, { job_type: ['process', 'grayscale'], image_id: imageId }).expect(201);
    for (const replay of [again, elsewhere]) {
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
    }
    expect(await jobsOfImage()).toBe(jobsBefore + 1);
    expect(await jobsInProgress()).toBe(chargedBefore + 1);
    // `.json` or not, it is one route.
    await api(app).post('/api/jobs').set(bearer(ada.token)).set('Idempotency-Key', key).send(body).expect(201);
    expect(await jobsOfImage()).toBe(jobsBefore + 1);
  });

  it('does the work once when two processes get the same request at the same moment', async () => {
    const key = newKey();
    const body = { image_id: imageId, job_type: ['process', 'equalize'] };
    const jobsBefore = await jobsOfImage();
    const answers = await Promise.all([postJob(app, key, body), postJob(other, key, body), postJob(app, key, body)]);
    // Each is the first answer, its replay, or 409 while the first was still in progress.
    for (const answer of answers) expect([201, 409]).toContain(answer.status);
    const created = answers.filter((answer) => answer.status === 201);
    expect(created.filter((answer) => answer.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
    for (const answer of created) expect(answer.body).toEqual(created[0].body);
    expect(await jobsOfImage()).toBe(jobsBefore + 1);
  });

  it('answers 422 naming the header for the same key with a different body, doing nothing', async () => {
    const key = newKey();
    await postJob(app, key, { image_id: imageId, job_type: ['process', 'grayscale'] }).expect(201);
    const jobsBefore = await jobsOfImage();
    const refused = await postJob(other, key, { image_id: imageId, job_type: ['process', 'invert'] }).expect(422);
    expect(refused.body).toEqual({
      error: expect.stringMatching(/used for a different request/),
      details: [{ field: 'Idempotency-Key', message: expect.stringMatching(/different request/) }],
    });
    // Nor may the key be moved to another route.
    await api(app).post(`/api/images/${imageId}/derivatives/thumb_256/url`).set(bearer(ada.token)).set('Idempotency-Key', key).expect(422);
    expect(await jobsOfImage()).toBe(jobsBefore);
  });

  it('keeps keys per user: the same key from two users is two requests', async () => {
    const grace = await createUser(app);
    const graceImage = (await createStoredImage(app, grace)).id;
    const key = newKey();
    await postJob(app, key, { image_id: imageId, job_type: ['process', 'grayscale'] }).expect(201);
    const theirs = await postJob(app, key, { image_id: graceImage, job_type: ['process', 'grayscale'] }, grace).expect(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.body.user_id).toBe(grace.id);
  });

  it('refuses a malformed key with 422 naming the header, before any work', async () => {
    const jobsBefore = await jobsOfImage();
    for (const key of ['k'.repeat(256), 'clé']) {
      const refused = await postJob(app, key, { image_id: imageId, job_type: ['process', 'grayscale'] }).expect(422);
      expect(refused.body.details).toEqual([{ field: 'Idempotency-Key', message: expect.stringMatching(/1 to 255 printable ASCII/) }]);
    }
    expect(await jobsOfImage()).toBe(jobsBefore);
  });

  it('replays a client error, but lets a 409 be retried for real', async () => {
    const invalidKey = newKey();
    const invalid = await postJob(app, invalidKey, { image_id: imageId, job_type: ['process', 'no_such_operation'] }).expect(422);
    const invalidAgain = await postJob(other, invalidKey, { image_id: imageId, job_type: ['process', 'no_such_operation'] }).expect(422);
    expect(invalidAgain.body).toEqual(invalid.body);
    expect(invalidAgain.headers['idempotent-replayed']).toBe('true');

    const job = (await postJob(app, undefined, { image_id: imageId, job_type: ['process', 'grayscale'] }).expect(201)).body;
    await api(app).post(`/api/jobs/${job.id}/cancel.json`).set(bearer(ada.token)).expect(200);
    const cancelKey = newKey();
    const cancel = () => api(app).post(`/api/jobs/${job.id}/cancel.json`).set(bearer(ada.token)).set('Idempotency-Key', cancelKey);
    const conflict = await cancel().expect(409);
    expect(conflict.headers['idempotent-replayed']).toBeUndefined();
    expect(await keyRow(cancelKey)).toBeUndefined();
    await api(app).post(`/api/jobs/${job.id}/retry.json`).set(bearer(ada.token)).expect(200);
    const cancelled = await cancel().expect(200);
    expect(cancelled.headers['idempotent-replayed']).toBeUndefined();
    expect(cancelled.body.status).toBe('cancelled');
    expect((await cancel().expect(200)).headers['idempotent-replayed']).toBe('true');
  });

  it('replays a POST sent with no body at all (no Content-Length, as curl -X POST sends it)', async () => {
    const job = (await postJob(app, undefined, { image_id: imageId, job_type: ['process', 'grayscale'] }).expect(201)).body;
    const server = app.getHttpServer();
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const key = newKey();
    const cancel = () =>
      new Promise<string>((resolve, reject) => {
        // Written, not ended: the server closes the connection once it has answered (Connection: close).
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            `POST /api/jobs/${job.id}/cancel.json HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ada.token}\r\n` +
              `Idempotency-Key: ${key}\r\nConnection: close\r\n\r\n`,
          ),
        );
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
    const first = await cancel();
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(first).not.toMatch(/idempotent-replayed/i);
    const again = await cancel();
    expect(again).toMatch(/^HTTP\/1\.1 200 /);
    expect(again).toMatch(/^Idempotent-Replayed: true\r$/im);
  });

  it('ignores the key where the answer holds a secret: sign-up and sign-in', async () => {
    const key = newKey();
    const username = `idem${process.pid}x${Date.now().toString(36)}`;
    const signUp = { username, email: `${username}@example.com`, password: 'password123' };
    await api(app).post('/api/users.json').set('Idempotency-Key', key).send(signUp).expect(201);
    const again = await api(app).post('/api/users.json').set('Idempotency-Key', key).send(signUp).expect(422);
    expect(again.body.error).toMatch(/already been taken/);
    const signIn = () => api(app).post('/api/sessions.json').set('Idempotency-Key', key).send({ username, password: 'password123' });
    const tokens = [(await signIn().expect(200)).body.authentication_token, (await signIn().expect(200)).body.authentication_token];
    expect(tokens[0]).not.toEqual(tokens[1]);
  });

  it('holds across a restart: a new API process replays what a closed one answered', async () => {
    const key = newKey();
    const body = { image_id: imageId, job_type: ['process', 'invert'] };
    const first = await postJob(other, key, body).expect(201);
    await other.close();
    other = await createTestApp(env);
    const jobsBefore = await jobsOfImage();
    const replay = await postJob(other, key, body).expect(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect(await jobsOfImage()).toBe(jobsBefore);
  });

  it('lets a retry take over a claim whose lease ran out, but only the same request', async () => {
    const key = newKey();
    const body = { image_id: imageId, job_type: ['process', 'grayscale'] };
    // What a request on a process killed mid-way leaves: a claim in flight, never answered (the
    // multipart tests below kill a real API process).
    await app.get(DataSource).query(
      `INSERT INTO idempotency_keys (owner, key, fingerprint, lease, leased_until, expires_at)
         VALUES ($1, $2, $3, gen_random_uuid(), now() + interval '1 minute', now() + interval '1 day')`,
      [`user:${ada.id}`, key, requestFingerprint({ method: 'POST', path: '/api/jobs', query: {}, body })],
    );
    const jobsBefore = await jobsOfImage();
    const busy = await postJob(other, key, body).expect(409);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.body.error).toMatch(/still in progress/);
    await postJob(app, key, { ...body, job_type: ['process', 'invert'] }).expect(422);
    await app.get(DataSource).query(`UPDATE idempotency_keys SET leased_until = now() - interval '1 second' WHERE key = $1`, [key]);
    await postJob(app, key, { ...body, job_type: ['process', 'invert'] }).expect(422);
    const taken = await postJob(other, key, body).expect(201);
    expect(taken.headers['idempotent-replayed']).toBeUndefined();
    expect(await jobsOfImage()).toBe(jobsBefore + 1);
    expect((await postJob(app, key, body).expect(201)).body).toEqual(taken.body);
  });

  it('forgets keys after IDEMPOTENCY_TTL; the reconciler deletes them', async () => {
    const key = newKey();
    const body = { image_id: imageId, job_type: ['process', 'grayscale'] };
    await postJob(app, key, body).expect(201);
    await app.get(DataSource).query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);
    const jobsBefore = await jobsOfImage();
    const fresh = await postJob(other, key, body).expect(201);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();
    expect(await jobsOfImage()).toBe(jobsBefore + 1);
    await app.get(DataSource).query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);
    await app.get(JobReconciler).reconcile();
    expect(await keyRow(key)).toBeUndefined();
  });

  describe('multipart uploads (POST /api/images.json with a file)', () => {
    const imageCount = async () => (await api(app).get('/api/users/me.json').set(bearer(ada.token)).expect(200)).body.image_count as number;
    const upload = (target: NestExpressApplication, key: string, photo: Buffer) =>
      api(target).post('/api/images.json').set(bearer(ada.token)).set('Idempotency-Key', key).attach('file', photo, 'photo.jpg');

    it('replays a retried upload of the same file (another boundary, another process) and refuses another file', async () => {
      const key = newKey();
      const photo = await uniquePhoto();
      const before = await imageCount();
      const first = await upload(app, key, photo).expect(201);
      const again = await upload(other, key, photo).expect(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await imageCount()).toBe(before + 1);
      const refused = await upload(other, key, await uniquePhoto()).expect(422);
      expect(refused.body.details[0].field).toBe('Idempotency-Key');
      expect(await imageCount()).toBe(before + 1);
    });

    it('does not keep an upload refused before its form was read: its retry is done afresh', async () => {
      const key = newKey();
      const before = await imageCount();
      await upload(app, key, Buffer.from('not an image at all')).expect(415);
      await upload(app, key, await uniquePhoto()).expect(201);
      expect(await imageCount()).toBe(before + 1);
    });

    /**
     * Starts POST /api/images.json of `photo` to the API on `port`, sending only the form's first
     * kilobyte; resolves once the request has claimed its key. `finish` sends the rest.
     */
    async function startSlowUpload(port: number, key: string, photo: Buffer) {
      const boundary = `slow${Date.now()}`;
      const body = form(boundary, photo);
      let finish!: () => void;
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const outgoing = httpRequest(
          {
            port,
            host: '127.0.0.1',
            method: 'POST',
            path: '/api/images.json',
            headers: {
              ...bearer(ada.token),
              'Idempotency-Key': key,
              'Content-Type': `multipart/form-data; boundary=${boundary}`,
              'Content-Length': String(body.length),
            },
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () => resolve({ status: response.statusCode!, body: text }));
          },
        );
        outgoing.on('error', reject);
        outgoing.write(body.subarray(0, 1000));
        finish = () => outgoing.end(body.subarray(1000));
      });
      // The key is claimed once the request reaches its handler, before its file has arrived.
      for (let waited = 0; !(await keyRow(key))?.lease; waited += 20) {
        if (waited > 30_000) throw new Error('The slow upload never claimed its key');
        await sleep(20);
      }
      return { answer, finish };
    }

    it('answers 409 to a retry while the first upload is still arriving, then replays its answer', async () => {
      const key = newKey();
      const photo = await uniquePhoto();
      const server = app.getHttpServer();
      if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const before = await imageCount();
      const slow = await startSlowUpload((server.address() as { port: number }).port, key, photo);
      const busy = await upload(other, key, photo).expect(409);
      expect(busy.headers['retry-after']).toBe('1');
      slow.finish();
      const first = await slow.answer;
      expect(first.status).toBe(201);
      const replay = await upload(other, key, photo).expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(JSON.parse(first.body));
      expect(await imageCount()).toBe(before + 1);
    });

    it('keeps the key of a running upload past its lease, and frees it once its API process is SIGKILLed and the lease ends', async () => {
      const port = await freePort();
      const lease = 5;
      const child = startNode(
        `idempotency-api-${setup.label}`,
        API_MAIN,
        ['--api-only'],
        { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port), IDEMPOTENCY_LEASE: String(lease) },
        join(env.DATA_DIR!, `idempotency-api-${setup.label}.log`),
      );
      try {
        for (let waited = 0; (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.status !== 200; waited += 200) {
          if (!child.running || waited > 90_000) throw new Error(`The API process did not start:\n${child.tail()}`);
          await sleep(200);
        }
        const key = newKey();
        const photo = await uniquePhoto();
        const before = await imageCount();
        const slow = await startSlowUpload(port, key, photo);
        slow.answer.catch(() => undefined);
        // Alive, the request renews its lease: past the lease's length the key is still its own.
        await sleep((lease + 2) * 1000);
        await upload(app, key, photo).expect(409);
        await child.kill();
        await expect(slow.answer).rejects.toThrow();
        // Another process sees the dead request's claim until its lease runs out, then takes the key over.
        const busy = await upload(app, key, photo).expect(409);
        expect(busy.body.error).toMatch(/still in progress/);
        let taken = busy;
        for (const started = Date.now(); taken.status === 409; taken = await upload(app, key, photo)) {
          if (Date.now() - started > (lease + 10) * 1000) throw new Error(`The key was never freed: ${JSON.stringify(taken.body)}`);
          await sleep(250);
        }
        expect(taken.status).toBe(201);
        expect(taken.headers['idempotent-replayed']).toBeUndefined();
        const replay = await upload(other, key, photo).expect(201);
        expect(replay.headers['idempotent-replayed']).toBe('true');
        expect(replay.body).toEqual(taken.body);
        expect(await imageCount()).toBe(before + 1);
      } finally {
        await child.kill();
      }
    });
  });
});
