import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { join } from 'node:path';
import { createImage, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { startS3Server } from '../bench/s3-server';
import { createSuiteDatabase } from './utils/suite-database';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';
import { filesUnder } from './utils/files';

const DEFAULT_STORAGE_BYTES = 10 * 1024 ** 3;

const setQuota = (app: NestExpressApplication, userId: number, body: Record<string, number | null>) =>
  api(app).put(`/api/users/${userId}.json`).set(bearer(ADMIN_TOKEN)).send(body).expect(200);

const tooMany = (used: number, limit: number) => ({
  error: `Too many jobs in progress: ${used} of ${limit} queued or running; wait for some to finish`,
  details: [],
});

describe('quota of jobs in progress', () => {
  let app: NestExpressApplication;
  let user: TestUser;
  let imageId: number;

  beforeAll(async () => {
    // No worker: the jobs stay queued, in progress.
    app = await createTestApp();
    user = await createUser(app);
    imageId = (await createStoredImage(app, user)).id;
  });

  afterAll(() => app.close());

  const submit = () => api(app).post('/api/jobs.json').set(bearer(user.token)).send({ image_id: imageId, job_type: 'grayscale' });

  it('refuses a job past the limit with 429, and takes jobs again once an admin raises it or some end', async () => {
    await setQuota(app, user.id, { max_jobs_in_progress: 2 });
    const first = (await submit().expect(201)).body;
    await submit().expect(201);
    const refused = await submit().expect(429);
    expect(refused.body).toEqual(tooMany(2, 2));

    const raised = await setQuota(app, user.id, { max_jobs_in_progress: 3 });
    expect(raised.body.limits.jobs_in_progress).toBe(3);
    await submit().expect(201);
    expect((await submit().expect(429)).body).toEqual(tooMany(3, 3));

    // A cancelled job is no longer in progress; retrying it re-queues one, which counts again.
    await api(app).post(`/api/jobs/${first.id}/cancel`).set(bearer(user.token)).expect(200);
    const again = await submit().expect(201);
    expect((await api(app).post(`/api/jobs/${first.id}/retry`).set(bearer(user.token)).expect(429)).body).toEqual(tooMany(3, 3));
    await api(app).post(`/api/jobs/${again.body.id}/cancel`).set(bearer(user.token)).expect(200);
    expect((await api(app).post(`/api/jobs/${first.id}/retry`).set(bearer(user.token)).expect(200)).body.status).toBe('queued');
  });

  it('lets concurrent creations fill the quota exactly, never past it', async () => {
    const me = await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200);
    const inProgress = me.body.usage.jobs_in_progress as number;
    await setQuota(app, user.id, { max_jobs_in_progress: inProgress + 4 });
    const statuses = (await Promise.all(Array.from({ length: 12 }, () => submit()))).map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(4);
    expect(statuses.filter((status) => status === 429)).toHaveLength(8);
    const after = await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200);
    expect(after.body.usage.jobs_in_progress).toBe(inProgress + 4);
  });

  it('shows usage and limits on GET /api/users/:id, the defaults when none is set', async () => {
    const other = await createUser(app);
    const image = await createStoredImage(app, other);
    await api(app).post('/api/jobs.json').set(bearer(other.token)).send({ image_id: image.id, job_type: 'grayscale' }).expect(201);
    const me = await api(app).get(`/api/users/${other.id}.json`).set(bearer(other.token)).expect(200);
    expect(me.body).toMatchObject({
      usage: { jobs_in_progress: 1, storage_bytes: fixture('astronaut.png').length },
      limits: { jobs_in_progress: 1000, storage_bytes: DEFAULT_STORAGE_BYTES },
    });
    await setQuota(app, other.id, { max_jobs_in_progress: 5, max_storage_bytes: 12345 });
    const set = await api(app).get(`/api/users/${other.id}`).set(bearer(ADMIN_TOKEN)).expect(200);
    expect(set.body.limits).toEqual({ jobs_in_progress: 5, storage_bytes: 12345 });
    const reset = await setQuota(app, other.id, { max_jobs_in_progress: null, max_storage_bytes: null });
    expect(reset.body.limits).toEqual({ jobs_in_progress: 1000, storage_bytes: DEFAULT_STORAGE_BYTES });
  });

  it('lets only an admin change quotas, and checks the values', async () => {
    const response = await api(app)
      .put(`/api/users/${user.id}.json`)
      .set(bearer(user.token))
      .send({ max_jobs_in_progress: 100 })
      .expect(403);
    expect(response.body.error).toBe('Only an admin may change quotas');
    await api(app).put(`/api/users/${user.id}.json`).set(bearer(user.token)).send({ max_storage_bytes: null }).expect(403);
    for (const body of [{ max_jobs_in_progress: -1 }, { max_jobs_in_progress: 'many' }, { max_storage_bytes: 1.5 }]) {
      await api(app).put(`/api/users/${user.id}.json`).set(bearer(ADMIN_TOKEN)).send(body).expect(422);
    }
  });
});

describe('storage quota', () => {
  let env: TestEnv;
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  const stored = () => filesUnder(join(env.DATA_DIR!, 'files'));
  const photo = fixture('astronaut.png');

  beforeAll(async () => {
    env = testEnv();
    app = await createTestApp(env);
    worker = await startTestWorker(env);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
  });

  const usage = async (user: TestUser) =>
    (await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200)).body.usage.storage_bytes as number;

  it('counts originals and outputs, and gives back what a deletion frees', async () => {
    const user = await createUser(app);
    expect(await usage(user)).toBe(0);
    const image = await createStoredImage(app, user);
    expect(await usage(user)).toBe(photo.length);
    const job = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: image.id, job_type: 'grayscale' })
      .expect(201);
    const done = await waitForJob(app, user.token, job.body.id);
    expect(done.status).toBe('completed');
    const output = await api(app).get(`/api/images/${done.outputs[0]}.json`).set(bearer(user.token)).expect(200);
    expect(await usage(user)).toBe(photo.length + output.body.bytes);
    await api(app).delete(`/api/images/${output.body.id}.json`).set(bearer(user.token)).expect(200);
    expect(await usage(user)).toBe(photo.length);
  });

  it('refuses an upload past the quota with 413, from its declared size, leaving nothing in storage', async () => {
    const user = await createUser(app);
    await createStoredImage(app, user);
    await setQuota(app, user.id, { max_storage_bytes: photo.length + 100 });
    const image = await createImage(app, user);
    const before = stored();
    const response = await api(app)
      .put(`/api/images/${image.id}/file`)
      .set(bearer(user.token))
      .set('Content-Type', 'image/png')
      .send(photo)
      .expect(413);
    expect(response.body).toEqual({
      error: `Storage quota exceeded: ${photo.length} of ${photo.length + 100} bytes used, and this file takes ${photo.length} more`,
      details: [],
    });
    expect(stored()).toEqual(before);
    const record = await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200);
    expect(record.body).toMatchObject({ status: 'created', s3_key: null, bytes: null });
    expect(await usage(user)).toBe(photo.length);
  });

  it('refuses a multipart upload past the quota once its size is known, recording and keeping nothing', async () => {
    const user = await createUser(app);
    await createStoredImage(app, user);
    await setQuota(app, user.id, { max_storage_bytes: photo.length + 100 });
    const before = stored();
    const response = await api(app).post('/api/images.json').set(bearer(user.token)).attach('file', photo, 'photo.png').expect(413);
    expect(response.body.error).toBe(
      `Storage quota exceeded: ${photo.length} of ${photo.length + 100} bytes used, and this file takes ${photo.length} more`,
    );
    expect(stored()).toEqual(before);
    const mine = await api(app).get('/api/images.json').set(bearer(user.token)).expect(200);
    expect(mine.body).toHaveLength(1);
    // Full already: refused before the body is read.
    await setQuota(app, user.id, { max_storage_bytes: photo.length });
    const full = await api(app)
      .post('/api/images.json')
      .set(bearer(user.token))
      .attach('file', fixture('camera.png'), 'camera.png')
      .expect(413);
    expect(full.body.error).toBe(`Storage quota exceeded: ${photo.length} of ${photo.length} bytes used`);
    expect(stored()).toEqual(before);
    // Room again once an admin raises it.
    await setQuota(app, user.id, { max_storage_bytes: null });
    await api(app).post('/api/images.json').set(bearer(user.token)).attach('file', photo, 'photo.png').expect(201);
    expect(await usage(user)).toBe(2 * photo.length);
  });

  it('fails a job whose output would pass the quota, with the reason, and keeps no output', async () => {
    const user = await createUser(app);
    const image = await createStoredImage(app, user);
    const limit = photo.length + 10;
    await setQuota(app, user.id, { max_storage_bytes: limit });
    const before = stored();
    const job = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: image.id, job_type: ['grayscale', 'histogram'] })
      .expect(201);
    const failed = await waitForJob(app, user.token, job.body.id);
    expect(failed).toMatchObject({ status: 'failed', outputs: [] });
    expect(failed.error).toMatch(
      new RegExp(
        `^Storage quota exceeded: ${photo.length} of ${limit} bytes used, and the output of step 1 \\(grayscale\\) takes \\d+ more$`,
      ),
    );
    expect(stored()).toEqual(before);
    expect(await usage(user)).toBe(photo.length);
    // With room again, a retry completes it.
    await setQuota(app, user.id, { max_storage_bytes: null });
    await api(app).post(`/api/jobs/${job.body.id}/retry`).set(bearer(user.token)).expect(200);
    const completed = await waitForJob(app, user.token, job.body.id);
    expect(completed).toMatchObject({ status: 'completed', outputs: [expect.any(Number), expect.any(Number)] });
  });
});

describe('storage quota on presigned uploads', () => {
  const BUCKET = 'darkroom-quota';
  let app: NestExpressApplication;
  let s3: { endpoint: string; stop(): Promise<void> };

  beforeAll(async () => {
    s3 = await startS3Server(BUCKET);
    // An installation keeps its files in one store: S3 gets a database of its own.
    const { url } = await createSuiteDatabase('s3');
    app = await createTestApp(
      testEnv({
        DATABASE_URL: url,
        STORAGE: 's3',
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: s3.endpoint,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      }),
    );
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
  });

  it('refuses to adopt an upload past the quota (413) and deletes the object', async () => {
    const user = await createUser(app);
    const photo = fixture('astronaut.png');
    await setQuota(app, user.id, { max_storage_bytes: photo.length - 1 });
    const image = await createImage(app, user);
    const grant = (
      await api(app).post(`/api/images/${image.id}/upload_url`).set(bearer(user.token)).send({ content_type: 'image/png' }).expect(200)
    ).body;
    expect((await fetch(grant.url, { method: 'PUT', body: photo, headers: { 'Content-Type': 'image/png' } })).ok).toBe(true);
    const refused = await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(413);
    expect(refused.body.error).toBe(
      `Storage quota exceeded: 0 of ${photo.length - 1} bytes used, and this file takes ${photo.length} more`,
    );
    // The object is gone: offering its key again finds nothing to adopt.
    const again = await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(422);
    expect(again.body.error).toMatch(/with the file uploaded to it/);
  });
});
