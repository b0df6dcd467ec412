import { createSuiteDatabase } from './utils/suite-database';
import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createImage, createStoredImage, createUser, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

/** POST /api/jobs/batch: many bodies in one request, each answered in its place. */
describe.each(availableBackends())('job batches, queue on $name', (backend) => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let env: TestEnv;
  let ada: TestUser;
  let bob: TestUser;
  let adaImage: number;
  let bobImage: number;

  beforeAll(async () => {
    // Each queue backend on an installation of its own: no work done on the other to reuse.
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(backend.name)).url, REDIS_URL: backend.redisUrl });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    ada = await createUser(app);
    bob = await createUser(app);
    adaImage = (await createStoredImage(app, ada, 'camera.png')).id;
    bobImage = (await createStoredImage(app, bob, 'coffee.png')).id;
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
  });

  const batch = (user: { token: string }, jobs: unknown) => api(app).post('/api/jobs/batch.json').set(bearer(user.token)).send({ jobs });
  const single = (user: { token: string }, body: unknown) =>
    api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send(body as object);
  const inProgress = async (user: TestUser) =>
    (await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200)).body.usage.jobs_in_progress as number;

  it('answers each body in its place, as POST /api/jobs would; the good ones are created and complete', async () => {
    const empty = await createImage(app, ada);
    const bodies = [
      { image_id: adaImage, job_type: 'invert' },
      { image_id: adaImage, job_type: 'invert', colour: 'blue' },
      { image_id: adaImage, job_sequence: ['process', 'grayscale', 'histogram'] },
      { image_id: bobImage, job_type: 'invert' },
      { job_type: 'grayscale' },
      { image_id: empty.id, job_type: 'invert' },
      { image_id: adaImage, job_type: 'no_such_operation' },
      { image_id: adaImage, job_type: 'blur', user_id: bob.id },
      'not an object',
      { image_id: adaImage, job_type: 'flip', force: true },
    ];
    const { body: results } = await batch(ada, bodies).expect(200);
    expect(results.map((result: { status: number }) => result.status)).toEqual([201, 422, 201, 404, 422, 422, 422, 403, 422, 201]);

    // Each refusal is exactly what the same body gets on its own (nothing is created by these).
    for (const [index, result] of results.entries()) {
      if (result.status === 201 || typeof bodies[index] !== 'object') continue;
      const alone = await single(ada, bodies[index]);
      expect({ status: result.status, error: result.error, details: result.details }).toEqual({ status: alone.status, ...alone.body });
    }
    expect(results[1].details).toEqual([{ field: 'colour', message: 'property colour should not exist' }]);
    expect(results[3].error).toBe(`No image with id ${bobImage}`);
    expect(results[8]).toEqual({
      status: 422,
      error: 'The body must be a JSON object',
      details: [{ field: 'body', message: 'The body must be a JSON object' }],
    });

    const created = [results[0].job, results[2].job, results[9].job];
    expect(created[0]).toMatchObject({
      status: 'queued',
      image_id: adaImage,
      job_type: ['process', 'invert'],
      user_id: ada.id,
      force: false,
    });
    expect(created[1]).toMatchObject({ job_type: ['process', 'grayscale', 'histogram'] });
    expect(created[2]).toMatchObject({ job_type: ['process', 'flip'], force: true });
    expect(created[0].id).toBeLessThan(created[1].id);
    expect(created[1].id).toBeLessThan(created[2].id);
    for (const job of created) {
      const done = await waitForJob(app, ada.token, job.id);
      expect(done).toMatchObject({ status: 'completed', error: null });
      expect(done.outputs.length).toBe(job.job_type.length - 1);
    }
  }, 90_000);

  it('makes the very job POST /api/jobs makes of the same body, every field', async () => {
    const body = {
      image_id: adaImage,
      job_type: ['resize', 'blur'],
      params: { resize: { width: 32 }, blur: { sigma: 2 } },
      environment: "NOTE='batch'",
      timeout: 60,
      ttl: 600,
      attempts: 5,
    };
    const alone = (await single(ada, body).expect(201)).body;
    const [item] = (await batch(ada, [body]).expect(200)).body;
    expect(item.status).toBe(201);
    const withoutIdentity = ({ id: _id, created_at: _created, updated_at: _updated, ...rest }: Record<string, unknown>) => rest;
    expect(withoutIdentity(item.job)).toEqual(withoutIdentity(alone));
    expect(item.job).toMatchObject({
      params: body.params,
      environment: body.environment,
      timeout: 60,
      ttl: 600,
      max_attempts: 5,
      status: 'queued',
    });
    expect(await waitForJob(app, ada.token, item.job.id)).toMatchObject({
      status: 'completed',
      outputs: [expect.any(Number), expect.any(Number)],
    });
    await waitForJob(app, ada.token, alone.id);
  });

  it('takes a full batch of 1,000, in order', async () => {
    const erin = await createUser(app);
    const image = (await createStoredImage(app, erin)).id;
    const { body: results } = await batch(
      erin,
      Array.from({ length: 1000 }, (_, index) => ({ image_id: image, job_type: 'invert', ttl: index + 1 })),
    ).expect(200);
    expect(results).toHaveLength(1000);
    expect(results.every((result: { status: number }) => result.status === 201)).toBe(true);
    const ids = results.map((result: { job: { id: number } }) => result.job.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(1000);
    expect(results.map((result: { job: { ttl: number } }) => result.job.ttl)).toEqual(
      Array.from({ length: 1000 }, (_, index) => index + 1),
    );
    // Deleting the user takes the jobs with it; the worker drops their queue entries as stale.
    await api(app).delete(`/api/users/${erin.id}.json`).set(bearer(ADMIN_TOKEN)).expect(200);
  });

  it('refuses a batch of more than 1,000 bodies whole, and a body without a jobs array', async () => {
    const before = await inProgress(ada);
    const tooMany = Array.from({ length: 1001 }, () => ({ image_id: adaImage, job_type: 'invert' }));
    const refused = await batch(ada, tooMany).expect(422);
    expect(refused.body).toEqual({
      error: 'jobs holds at most 1000 job bodies, not 1001: split the batch',
      details: [{ field: 'jobs', message: 'jobs holds at most 1000 job bodies, not 1001: split the batch' }],
    });
    expect(await inProgress(ada)).toBe(before);
    const notArray = await api(app)
      .post('/api/jobs/batch.json')
      .set(bearer(ada.token))
      .send({ jobs: { image_id: adaImage } })
      .expect(422);
    expect(notArray.body.details).toEqual([{ field: 'jobs', message: 'jobs must be an array of job bodies' }]);
    await api(app).post('/api/jobs/batch.json').set(bearer(ada.token)).send({ jobs: [], extra: 1 }).expect(422);
    expect((await batch(ada, []).expect(200)).body).toEqual([]);
    await api(app).post('/api/jobs/batch.json').send({ jobs: [] }).expect(401);
  });

  it('holds each owner to their quota of jobs in progress, per job, in order', async () => {
    const carol = await createUser(app);
    const image = (await createStoredImage(app, carol)).id;
    await api(app).put(`/api/users/${carol.id}.json`).set(bearer(ADMIN_TOKEN)).send({ max_jobs_in_progress: 2 }).expect(200);
    // The quota is checked as the batch is inserted, all in one transaction: the worker cannot free room meanwhile.
    const { body: results } = await batch(
      carol,
      Array.from({ length: 4 }, () => ({ image_id: image, job_type: 'invert' })),
    ).expect(200);
    expect(results.map((result: { status: number }) => result.status)).toEqual([201, 201, 429, 429]);
    expect(results[2]).toEqual({
      status: 429,
      error: 'Too many jobs in progress: 2 of 2 queued or running; wait for some to finish',
      details: [],
    });

    // An admin's batch for several owners: each owner's own quota.
    await api(app)
      .put(`/api/users/${bob.id}.json`)
      .set(bearer(ADMIN_TOKEN))
      .send({ max_jobs_in_progress: (await inProgress(bob)) + 1 })
      .expect(200);
    const mixed = await batch({ token: ADMIN_TOKEN }, [
      { image_id: bobImage, user_id: bob.id, job_type: 'invert' },
      { image_id: adaImage, user_id: ada.id, job_type: 'invert' },
      { image_id: bobImage, user_id: bob.id, job_type: 'invert' },
      { image_id: adaImage, job_type: 'invert' },
    ]).expect(200);
    expect(mixed.body.map((result: { status: number }) => result.status)).toEqual([201, 201, 429, 422]);
    expect(mixed.body[3].error).toBe('user_id is required when acting with ADMIN_TOKEN');

    // A user that does not exist is refused in its place, not by the whole batch's INSERT.
    const query = { job_sequence: ['query', 'histogram', 'median'], params: { n: 'all' } };
    const unknown = await batch({ token: ADMIN_TOKEN }, [
      { ...query, user_id: 2_000_000_000 },
      { ...query, user_id: ada.id },
    ]).expect(200);
    expect(unknown.body.map((result: { status: number }) => result.status)).toEqual([422, 201]);
    expect(unknown.body[0].details).toEqual([{ field: 'user_id', message: 'user_id 2000000000 does not name an existing user' }]);
    mixed.body.push(unknown.body[1]);
    await api(app).put(`/api/users/${bob.id}.json`).set(bearer(ADMIN_TOKEN)).send({ max_jobs_in_progress: null }).expect(200);
    for (const result of [...results, ...mixed.body].filter((item: { status: number }) => item.status === 201)) {
      await waitForJob(app, ADMIN_TOKEN, result.job.id);
    }
  }, 60_000);

  it('spends one unit of JOB_RATE_LIMIT per job: a batch past what is left is refused whole', async () => {
    const limited = await createTestApp({ ...env, JOB_RATE_LIMIT: '5' });
    try {
      const dave = await createUser(app);
      const image = (await createStoredImage(app, dave)).id;
      const jobs = (n: number) => Array.from({ length: n }, () => ({ image_id: image, job_type: 'invert' }));
      const send = (body: unknown) => api(limited).post('/api/jobs/batch.json').set(bearer(dave.token)).send({ jobs: body });
      expect((await send(jobs(3)).expect(200)).body).toHaveLength(3);
      // Refused for its size, a batch creates nothing and spends one unit, not 1,001.
      await send(jobs(1001)).expect(422);
      expect((await send(jobs(1)).expect(200)).body[0].status).toBe(201);
      const refused = await send(jobs(2)).expect(429);
      expect(refused.body.error).toMatch(/^Too many jobs: at most 5 a minute per user; try again in \d+ s$/);
    } finally {
      await limited.close();
    }
  });
});
