import { createSuiteDatabase } from './utils/suite-database';
import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createImage, createUser, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { binary, uniquePhoto } from './utils/images';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

const PIPELINE = ['process', 'grayscale', 'histogram'];

describe.each(availableBackends())('no redundant work, queue on $name', (backend) => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let env: TestEnv;
  let ada: TestUser;
  let grace: TestUser;

  beforeAll(async () => {
    // Each queue backend on an installation of its own: no work done on the other to reuse.
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(backend.name)).url, REDIS_URL: backend.redisUrl });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    ada = await createUser(app);
    grace = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
  });

  const run = async (owner: TestUser, body: Record<string, unknown>) => {
    const created = await api(app).post('/api/jobs.json').set(bearer(owner.token)).send(body).expect(201);
    const job = await waitForJob(app, owner.token, created.body.id);
    expect(job).toMatchObject({ status: 'completed', error: null });
    return job;
  };
  const imageOf = async (owner: TestUser, id: number) =>
    (await api(app).get(`/api/images/${id}.json`).set(bearer(owner.token)).expect(200)).body;
  const fileOf = async (owner: TestUser, id: number) =>
    (await api(app).get(`/api/images/${id}/file`).set(bearer(owner.token)).buffer(true).parse(binary).expect(200)).body as Buffer;
  const uploadImage = async (owner: TestUser, png: Buffer) => {
    const image = await createImage(app, owner);
    return (
      await api(app).put(`/api/images/${image.id}/file`).set(bearer(owner.token)).set('Content-Type', 'image/png').send(png).expect(200)
    ).body;
  };
  const stored = (key: string) => existsSync(join(env.DATA_DIR!, 'files', key));

  it('reuses every step of a repeated pipeline, recomputes with force, and deletes a shared file with its last image', async () => {
    const source = await uploadImage(ada, await uniquePhoto('camera.png', 'png'));
    const first = await run(ada, { image_id: source.id, job_sequence: PIPELINE });
    expect(first).toMatchObject({ force: false, reused_steps: [] });

    const again = await run(ada, { image_id: source.id, job_sequence: PIPELINE });
    expect(again.reused_steps).toEqual([0, 1]);
    expect(again.outputs).toHaveLength(2);
    expect(again.outputs).not.toEqual(first.outputs);
    const [firstGrey, firstHistogram] = await Promise.all(first.outputs.map((id: number) => imageOf(ada, id)));
    const [grey, histogram] = await Promise.all(again.outputs.map((id: number) => imageOf(ada, id)));
    expect(grey).toMatchObject({
      s3_key: firstGrey.s3_key,
      sha256: firstGrey.sha256,
      image_type: 'grayscale',
      original_id: source.id,
      job_id: again.id,
    });
    expect(histogram).toMatchObject({ s3_key: firstHistogram.s3_key, histogram: firstHistogram.histogram, job_id: again.id });
    expect(histogram.histogram).toHaveLength(256);

    const forced = await run(ada, { image_id: source.id, job_sequence: PIPELINE, force: true });
    expect(forced).toMatchObject({ force: true, reused_steps: [] });
    const forcedGrey = await imageOf(ada, forced.outputs[0]);
    expect(forcedGrey.s3_key).not.toBe(firstGrey.s3_key);
    expect(forcedGrey.sha256).toBe(firstGrey.sha256);

    // A different operation after the same first step: only the first is reused.
    const mixed = await run(ada, { image_id: source.id, job_sequence: ['process', 'grayscale', 'invert'] });
    expect(mixed.reused_steps).toEqual([0]);

    // The file of the first grayscale output is now shared by three images (first, again, mixed).
    expect(stored(firstGrey.s3_key)).toBe(true);
    await api(app).delete(`/api/images/${firstGrey.id}.json`).set(bearer(ada.token)).expect(200);
    await api(app).delete(`/api/images/${grey.id}.json`).set(bearer(ada.token)).expect(200);
    expect(stored(firstGrey.s3_key)).toBe(true);
    expect((await fileOf(ada, mixed.outputs[0])).length).toBe(firstGrey.bytes);
    await api(app).delete(`/api/images/${mixed.outputs[0]}.json`).set(bearer(ada.token)).expect(200);
    expect(stored(firstGrey.s3_key)).toBe(false);
    expect(stored(forcedGrey.s3_key)).toBe(true);
  }, 60_000);

  it('completes a job whose every step was done before as it is created, alone or in a batch, and queues the rest', async () => {
    const source = await uploadImage(ada, await uniquePhoto('camera.png', 'png'));
    const first = await run(ada, { image_id: source.id, job_sequence: PIPELINE });

    const again = (
      await api(app).post('/api/jobs.json').set(bearer(ada.token)).send({ image_id: source.id, job_sequence: PIPELINE }).expect(201)
    ).body;
    expect(again).toMatchObject({ status: 'completed', progress: 100, attempts: 0, reused_steps: [0, 1], error: null });
    expect(again.outputs).toHaveLength(2);
    expect(await waitForJob(app, ada.token, again.id)).toMatchObject({ status: 'completed', outputs: again.outputs });
    const histogram = await imageOf(ada, again.outputs[1]);
    expect(histogram).toMatchObject({
      job_id: again.id,
      image_type: 'histogram',
      histogram: (await imageOf(ada, first.outputs[1])).histogram,
    });

    const batch = (
      await api(app)
        .post('/api/jobs/batch.json')
        .set(bearer(ada.token))
        .send({
          jobs: [
            { image_id: source.id, job_sequence: PIPELINE },
            { image_id: source.id, job_sequence: ['process', 'grayscale', 'flip'] },
            { image_id: source.id, job_sequence: PIPELINE, force: true },
          ],
        })
        .expect(200)
    ).body;
    expect(batch.map((item: { status: number }) => item.status)).toEqual([201, 201, 201]);
    const [repeated, partly, forced] = batch.map((item: { job: Record<string, unknown> }) => item.job);
    expect(repeated).toMatchObject({ status: 'completed', reused_steps: [0, 1] });
    expect(partly).toMatchObject({ status: 'queued', reused_steps: [] });
    expect(forced).toMatchObject({ status: 'queued', reused_steps: [] });
    expect(await waitForJob(app, ada.token, partly.id as number)).toMatchObject({ status: 'completed', reused_steps: [0] });
    expect(await waitForJob(app, ada.token, forced.id as number)).toMatchObject({ status: 'completed', reused_steps: [] });
  }, 60_000);

  it('leaves a repeated job to the queue when its reused outputs would not fit its owner’s storage quota', async () => {
    const owner = await createUser(app);
    const source = await uploadImage(owner, await uniquePhoto('coffee.png', 'png'));
    await run(owner, { image_id: source.id, job_sequence: PIPELINE });
    const used = (await api(app).get(`/api/users/${owner.id}.json`).set(bearer(ADMIN_TOKEN)).expect(200)).body.usage
      .storage_bytes as number;
    await api(app)
      .put(`/api/users/${owner.id}.json`)
      .set(bearer(ADMIN_TOKEN))
      .send({ max_storage_bytes: used + 1 })
      .expect(200);

    const again = (
      await api(app).post('/api/jobs.json').set(bearer(owner.token)).send({ image_id: source.id, job_sequence: PIPELINE }).expect(201)
    ).body;
    expect(again).toMatchObject({ status: 'queued', reused_steps: [] });
    const ended = await waitForJob(app, owner.token, again.id);
    expect(ended).toMatchObject({ status: 'failed', outputs: [] });
    expect(ended.error).toMatch(/^Storage quota exceeded/);
  }, 60_000);

  it('reuses the work of the same photo uploaded by another user, whose deletion keeps the shared files', async () => {
    const photo = await uniquePhoto('coffee.png', 'png');
    const adas = await uploadImage(ada, photo);
    const first = await run(ada, { image_id: adas.id, job_sequence: PIPELINE });
    const graces = await uploadImage(grace, photo);
    const hers = await run(grace, { image_id: graces.id, job_sequence: PIPELINE });
    expect(hers.reused_steps).toEqual([0, 1]);
    const keys = await Promise.all(first.outputs.map(async (id: number) => (await imageOf(ada, id)).s3_key as string));
    expect(keys.every(stored)).toBe(true);

    await api(app).delete(`/api/users/${grace.id}.json`).set(bearer(ADMIN_TOKEN)).expect(200);
    expect(keys.every(stored)).toBe(true);
    expect((await fileOf(ada, first.outputs[1])).length).toBeGreaterThan(0);
  }, 60_000);

  it('reuses a later copy of the same work when the first file was lost from storage', async () => {
    const source = await uploadImage(ada, await uniquePhoto('camera.png', 'png'));
    const first = await run(ada, { image_id: source.id, job_sequence: PIPELINE });
    const forced = await run(ada, { image_id: source.id, job_sequence: PIPELINE, force: true });
    const [lost, kept] = await Promise.all([first, forced].map(async (job) => (await imageOf(ada, job.outputs[0])).s3_key as string));
    unlinkSync(join(env.DATA_DIR!, 'files', lost));

    const again = await run(ada, { image_id: source.id, job_sequence: PIPELINE });
    expect(again.reused_steps).toEqual([0, 1]);
    expect((await imageOf(ada, again.outputs[0])).s3_key).toBe(kept);
  }, 60_000);

  it('refuses a force that is not a boolean', async () => {
    const response = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ada.token))
      .send({ image_id: 1, job_sequence: PIPELINE, force: 'yes' })
      .expect(422);
    expect(JSON.stringify(response.body)).toContain('force must be true or false');
  });
});
