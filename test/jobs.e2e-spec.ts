import { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { createImage, createJob, createStoredImage, createUser, TestUser } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp } from './utils/test-app';

describe('jobs', () => {
  let app: NestExpressApplication;
  let alice: TestUser;
  let bob: TestUser;
  let image: { id: number; s3_key: string };

  beforeAll(async () => {
    app = await createTestApp();
    alice = await createUser(app);
    bob = await createUser(app);
    image = await createStoredImage(app, alice);
  });

  afterAll(() => app.close());

  /** The user's jobs in the database: a count of their own, which no other test's jobs change. */
  const jobsOf = async (user: TestUser): Promise<number> =>
    (await app.get(DataSource).query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [user.id]))[0].n;

  it.each([
    ['a single operation', { job_type: 'grayscale' }, ['process', 'grayscale']],
    ['a list of operations', { job_type: ['grayscale', 'histogram'] }, ['process', 'grayscale', 'histogram']],
    ["the seed's job_sequence", { job_sequence: ['process', 'grayscale', 'histogram'] }, ['process', 'grayscale', 'histogram']],
  ])('accepts %s and stores the sequence in the job_type text[] column', async (_, body, sequence) => {
    const job = await createJob(app, alice, { image_id: image.id, user_id: alice.id, ...body });
    expect(job).toMatchObject({
      status: 'queued',
      lane: 'interactive',
      job_type: sequence,
      image_id: image.id,
      user_id: alice.id,
      image_url: `/api/images/${image.id}/file`,
    });
    const [row] = await app.get(DataSource).query('SELECT job_type::text AS stored FROM jobs WHERE id = $1', [job.id]);
    expect(row.stored).toBe(`{${sequence.join(',')}}`);
  });

  it('stores the environment string exactly as given', async () => {
    const environment = `QUERY='n=all&days=today&image_type=histogram'`;
    const job = await createJob(app, alice, { job_sequence: ['query', 'histogram', 'median'], environment });
    expect(job).toMatchObject({ environment, image_id: null, image_url: null, job_type: ['query', 'histogram', 'median'] });
  });

  it("gives as image_url the URL of the job's source image, never its storage key", async () => {
    const job = await createJob(app, alice, { image_id: image.id, job_type: 'grayscale' });
    expect(job.image_url).toBe(`/api/images/${image.id}/file`);
    expect(job.image_url).not.toContain(image.s3_key);
    const source = await api(app)
      .get(job.image_url as string)
      .set(bearer(alice.token))
      .expect(200);
    expect(source.headers['content-disposition']).toBe(`attachment; filename="${image.id}-original.png"`);
    // The column still records which stored file the job was made from.
    const [row] = await app.get(DataSource).query('SELECT image_url FROM jobs WHERE id = $1', [job.id]);
    expect(row.image_url).toBe(image.s3_key);
  });

  it.each([
    ['no job_type', {}, 'job_type'],
    ['both forms', { job_type: 'grayscale', job_sequence: ['process', 'grayscale'] }, 'job_sequence'],
    ['a kind with no operation', { job_sequence: ['process'] }, 'job_sequence'],
    ['a step that is no name', { job_type: ['grayscale', 'rm -rf /'] }, 'job_type'],
    ['a number as job_type', { job_type: 7 }, 'job_type'],
    ['an empty list', { job_type: [] }, 'job_type'],
    ['an unknown field', { job_type: 'grayscale', status: 'completed' }, 'status'],
  ])('refuses %s with 422 naming the field', async (_, body, field) => {
    const response = await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ image_id: image.id, ...body })
      .expect(422);
    expect(response.body.details.map((detail: { field: string }) => detail.field)).toContain(field);
  });

  it.each([
    ['an unknown operation', { job_type: ['grayscale', 'sepia'] }, 'job_type', /"sepia" is not an operation; known: .*grayscale/],
    ['bad parameters', { job_type: 'resize', params: { resize: { width: 0, colour: 'red' } } }, 'params.resize.width', /width/],
    ['missing required parameters', { job_type: 'rotate', params: {} }, 'params.rotate.angle', /angle/],
    [
      'parameters for a step the job does not have',
      { job_type: 'blur', params: { resize: { width: 9 } } },
      'params.resize',
      /names no step/,
    ],
    ['parameters that are not an object', { job_type: 'blur', params: [1] }, 'params', /object/],
    ['a timeout of zero', { job_type: 'blur', timeout: 0 }, 'timeout', /timeout/],
  ])('refuses %s with 422 naming it, and queues nothing', async (_, body, field, message) => {
    const before = await jobsOf(alice);
    const response = await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ image_id: image.id, ...body })
      .expect(422);
    const detail = response.body.details.find((d: { field: string }) => d.field === field);
    expect(detail?.message ?? response.body.error).toMatch(message);
    expect(await jobsOf(alice)).toBe(before);
  });

  it.each([
    [`QUERY='$(rm -rf /)'`, 'environment.QUERY.$(rm -rf /)'],
    [`QUERY='n=all`, 'environment'],
    [`QUERY=$(reboot)`, 'environment'],
    [`QUERY='n=all' EVIL=1`, 'environment'],
    [`QUERY='n=all&bogus=1'`, 'environment.QUERY.bogus'],
  ])('refuses the environment %s with 422 naming %s, and queues nothing', async (environment, field) => {
    const before = await jobsOf(alice);
    const response = await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ job_sequence: ['query', 'histogram', 'median'], environment })
      .expect(422);
    expect(response.body.details.map((detail: { field: string }) => detail.field)).toContain(field);
    expect(await jobsOf(alice)).toBe(before);
  });

  it("refuses a search whose target is not the caller's histogram image, or whose USER is someone else", async () => {
    const response = await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ job_sequence: ['search', 'histogram', 'nearest_neighbor'], environment: `TARGET=${image.id} K=3` })
      .expect(422);
    expect(response.body.details[0]).toEqual({
      field: 'TARGET',
      message: `TARGET ${image.id} is not one of your histogram images`,
    });
    const bobsImage = await createImage(app, bob);
    const foreign = await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ job_sequence: ['search', 'histogram', 'nearest_neighbor'], environment: `TARGET=${bobsImage.id} K=3` })
      .expect(404);
    expect(foreign.body).toEqual({ error: `No image with id ${bobsImage.id}`, details: [] });
    await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ job_sequence: ['search', 'histogram', 'nearest_neighbor'], params: { target: image.id, user: bob.id } })
      .expect(403);
  });

  it('refuses a process job on an image with no stored file yet (422)', async () => {
    const bare = await createImage(app, alice);
    const response = await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ image_id: bare.id, job_type: 'blur' })
      .expect(422);
    expect(response.body.error).toMatch(/no stored file yet/);
  });

  it('records timeout, ttl, attempts and parameters given at creation, with defaults otherwise', async () => {
    const job = await createJob(app, alice, {
      image_id: image.id,
      job_type: ['resize', 'blur'],
      params: { resize: { width: 100 } },
      timeout: 60,
      ttl: 600,
      attempts: 5,
    });
    expect(job).toMatchObject({
      timeout: 60,
      ttl: 600,
      max_attempts: 5,
      params: { resize: { width: 100 } },
      progress: 0,
      attempts: 0,
      outputs: [],
    });
    const defaults = await createJob(app, alice, { image_id: image.id, job_type: 'blur' });
    expect(defaults).toMatchObject({ timeout: 300, ttl: null, max_attempts: 3, params: {} });
  });

  it("refuses a process job without an image (422), and on someone else's image as on one that does not exist (404)", async () => {
    const noImage = await api(app).post('/api/jobs.json').set(bearer(alice.token)).send({ job_type: 'grayscale' }).expect(422);
    expect(noImage.body.details[0].field).toBe('image_id');
    const bobsImage = await createImage(app, bob);
    const foreign = await api(app)
      .post('/api/jobs.json')
      .set(bearer(alice.token))
      .send({ image_id: bobsImage.id, job_type: 'grayscale' })
      .expect(404);
    expect(foreign.body).toEqual({ error: `No image with id ${bobsImage.id}`, details: [] });
    const missing = await api(app).post('/api/jobs.json').set(bearer(alice.token)).send({ image_id: 2147483647, job_type: 'grayscale' });
    expect({ status: missing.status, body: missing.body }).toEqual({
      status: 404,
      body: { error: 'No image with id 2147483647', details: [] },
    });
    const derived = await api(app).post('/api/images.json').set(bearer(alice.token)).send({ original_id: bobsImage.id }).expect(404);
    expect(derived.body.error).toBe(`No image with id ${bobsImage.id}`);
    // An admin sees every image: told whose it is not, rather than that it is absent.
    const forAlice = await api(app)
      .post('/api/jobs.json')
      .set(bearer(ADMIN_TOKEN))
      .send({ image_id: bobsImage.id, job_type: 'grayscale', user_id: alice.id })
      .expect(422);
    expect(forAlice.body.error).toBe(`image_id ${bobsImage.id} is not an image of user ${alice.id}`);
  });

  it('refuses to create a job for another user (403) unless an admin does it', async () => {
    await api(app)
      .post('/api/jobs.json')
      .set(bearer(bob.token))
      .send({ user_id: alice.id, image_id: image.id, job_type: 'blur' })
      .expect(403);
    const job = await createJob(app, { ...alice, token: ADMIN_TOKEN }, { user_id: alice.id, image_id: image.id, job_type: 'blur' });
    expect(job.user_id).toBe(alice.id);
  });

  it('updates a queued job and refuses to change one that has started (409)', async () => {
    const job = await createJob(app, alice, { image_id: image.id, job_type: 'grayscale' });
    const updated = await api(app)
      .put(`/api/jobs/${job.id}.json`)
      .set(bearer(alice.token))
      .send({ id: job.id, job_type: ['grayscale', 'histogram'], environment: 'K=3' })
      .expect(200);
    expect(updated.body).toMatchObject({ job_type: ['process', 'grayscale', 'histogram'], environment: 'K=3' });
    await app.get(DataSource).query(`UPDATE jobs SET status = 'running' WHERE id = $1`, [job.id]);
    const refused = await api(app).put(`/api/jobs/${job.id}`).set(bearer(alice.token)).send({ environment: 'K=4' }).expect(409);
    expect(refused.body.error).toMatch(/running/);
    await api(app).put(`/api/jobs/${job.id}`).set(bearer(alice.token)).send({ image_id: image.id }).expect(422);
  });

  it('checks the job as an update would leave it, storing nothing when it is not a valid job', async () => {
    const median = ['query', 'histogram', 'median'];
    const job = await createJob(app, alice, { job_sequence: median, environment: "QUERY='days=today'" });
    const change = (id: number, body: object) => api(app).put(`/api/jobs/${id}.json`).set(bearer(alice.token)).send(body);
    expect((await change(job.id, { environment: "QUERY='n=all" }).expect(422)).body.details[0].field).toBe('environment');
    expect((await change(job.id, { environment: "QUERY='$(rm -rf /)'" }).expect(422)).body.details[0].field).toBe(
      'environment.QUERY.$(rm -rf /)',
    );
    expect((await change(job.id, { environment: "QUERY='n=all'" }).expect(200)).body.environment).toBe("QUERY='n=all'");

    const withParams = await createJob(app, alice, { job_sequence: median, params: { n: 'all' } });
    expect((await change(withParams.id, { environment: "QUERY='n=5'" }).expect(422)).body.details).toEqual([
      { field: 'params', message: 'Give the selection as environment or as params, not both' },
    ]);

    const resized = await createJob(app, alice, { image_id: image.id, job_type: 'resize', params: { resize: { width: 100 } } });
    expect((await change(resized.id, { job_type: 'blur' }).expect(422)).body.details).toEqual([
      { field: 'params.resize', message: 'params.resize names no step of this job' },
    ]);
    const stored = await api(app).get(`/api/jobs/${resized.id}.json`).set(bearer(alice.token)).expect(200);
    expect(stored.body).toMatchObject({ job_type: ['process', 'resize'], params: { resize: { width: 100 } } });
  });

  it('reads, lists and destroys, keeping jobs_count exact', async () => {
    const user = await createUser(app);
    const own = await createStoredImage(app, user);
    const first = await createJob(app, user, { image_id: own.id, job_type: 'grayscale' });
    const second = await createJob(app, user, { image_id: own.id, job_type: 'histogram' });
    const read = await api(app).get(`/api/jobs/${first.id}.json`).set(bearer(user.token)).expect(200);
    // GET of one job adds where a queued job stands (test/queue-wait.e2e-spec.ts).
    expect(read.body).toEqual({ ...first, ahead: expect.any(Number), estimated_start_at: null });
    const list = await api(app).get('/api/jobs.json').set(bearer(user.token)).expect(200);
    expect(list.body.map((job: { id: number }) => job.id)).toEqual([second.id, first.id]);
    const count = async () => (await api(app).get(`/api/users/${user.id}`).set(bearer(user.token))).body.jobs_count;
    expect(await count()).toBe(2);
    const destroyed = await api(app).delete(`/api/jobs/${first.id}.json`).set(bearer(user.token)).expect(200);
    expect(destroyed.body.id).toBe(first.id);
    expect(await count()).toBe(1);
    await api(app).get(`/api/jobs/${first.id}.json`).set(bearer(user.token)).expect(404);
  });

  it('filters the index by days and n, and user_id only for oneself (else 403)', async () => {
    const user = await createUser(app);
    const own = await createStoredImage(app, user);
    const old = await createJob(app, user, { image_id: own.id, job_type: 'grayscale' });
    const recent = await createJob(app, user, { image_id: own.id, job_type: 'grayscale' });
    await app.get(DataSource).query(`UPDATE jobs SET created_at = now() - interval '2 days' WHERE id = $1`, [old.id]);
    const list = async (query: string, token = user.token) =>
      (await api(app).get(`/api/jobs.json?${query}`).set(bearer(token)).expect(200)).body.map((job: { id: number }) => job.id);
    expect(await list('days=today')).toEqual([recent.id]);
    expect(await list('days=3')).toEqual([recent.id, old.id]);
    expect(await list('n=1')).toEqual([recent.id]);
    expect(await list(`user_id=${user.id}&n=all`, ADMIN_TOKEN)).toEqual([recent.id, old.id]);
    await api(app).get(`/api/jobs.json?user_id=${alice.id}`).set(bearer(user.token)).expect(403);
  });

  it('filters the index by status; images and aggregate jobs refuse status', async () => {
    const user = await createUser(app);
    const own = await createStoredImage(app, user);
    const waiting = await createJob(app, user, { image_id: own.id, job_type: 'grayscale' });
    const done = await createJob(app, user, { image_id: own.id, job_type: 'grayscale' });
    await app.get(DataSource).query(`UPDATE jobs SET status = 'completed' WHERE id = $1`, [done.id]);
    const list = async (query: string) =>
      (await api(app).get(`/api/jobs.json?${query}`).set(bearer(user.token)).expect(200)).body.map((job: { id: number }) => job.id);
    expect(await list('status=completed')).toEqual([done.id]);
    expect(await list('status=queued&n=all')).toEqual([waiting.id]);
    expect(await list('status=cancelled')).toEqual([]);
    const refused = await api(app).get('/api/jobs.json?status=done').set(bearer(user.token)).expect(422);
    expect(refused.body.details).toEqual([
      { field: 'status', message: 'status must be one of queued, running, completed, failed, cancelled, not "done"' },
    ]);
    const images = await api(app).get('/api/images.json?status=queued').set(bearer(user.token)).expect(422);
    expect(images.body.details[0].field).toBe('status');
    const aggregate = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ job_sequence: ['query', 'histogram', 'median'], params: { status: 'completed' } })
      .expect(422);
    expect(aggregate.body.details[0].field).toBe('params.status');
  });

  it('filters the index by lane; images and aggregate jobs refuse lane', async () => {
    const user = await createUser(app);
    const own = await createStoredImage(app, user);
    const interactive = await createJob(app, user, { image_id: own.id, job_type: 'grayscale' });
    const bulk = await createJob(app, user, { image_id: own.id, job_type: 'grayscale', lane: 'bulk' });
    const list = async (query: string) =>
      (await api(app).get(`/api/jobs.json?${query}`).set(bearer(user.token)).expect(200)).body.map((job: { id: number; lane: string }) => [
        job.id,
        job.lane,
      ]);
    expect(await list('lane=bulk')).toEqual([[bulk.id, 'bulk']]);
    expect(await list('lane=interactive')).toEqual([[interactive.id, 'interactive']]);
    expect(await list('lane=bulk&status=completed')).toEqual([]);
    const refused = await api(app).get('/api/jobs.json?lane=fast').set(bearer(user.token)).expect(422);
    expect(refused.body).toEqual({
      error: 'lane must be one of interactive, bulk, not "fast"',
      details: [{ field: 'lane', message: 'lane must be one of interactive, bulk, not "fast"' }],
    });
    const images = await api(app).get('/api/images.json?lane=bulk').set(bearer(user.token)).expect(422);
    expect(images.body.details[0].field).toBe('lane');
    const aggregate = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ job_sequence: ['query', 'histogram', 'median'], params: { lane: 'bulk' } })
      .expect(422);
    expect(aggregate.body.details[0].field).toBe('params.lane');
  });

  it("hides another user's job: 404 to read, change or destroy", async () => {
    const job = await createJob(app, alice, { image_id: image.id, job_type: 'grayscale' });
    await api(app).get(`/api/jobs/${job.id}.json`).set(bearer(bob.token)).expect(404);
    await api(app).put(`/api/jobs/${job.id}.json`).set(bearer(bob.token)).send({ environment: 'x' }).expect(404);
    await api(app).delete(`/api/jobs/${job.id}.json`).set(bearer(bob.token)).expect(404);
    const bobsList = await api(app).get('/api/jobs.json?n=all').set(bearer(bob.token)).expect(200);
    expect(bobsList.body.map((row: { id: number }) => row.id)).not.toContain(job.id);
  });

  it("destroying a user removes their images and jobs; the job's image reference clears when the image goes", async () => {
    const user = await createUser(app);
    const own = await createStoredImage(app, user);
    const job = await createJob(app, user, { image_id: own.id, job_type: 'grayscale' });
    await api(app).delete(`/api/images/${own.id}.json`).set(bearer(user.token)).expect(200);
    const orphan = await api(app).get(`/api/jobs/${job.id}.json`).set(bearer(user.token)).expect(200);
    expect(orphan.body.image_id).toBeNull();
    await api(app).delete(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200);
    const [left] = await app.get(DataSource).query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [user.id]);
    expect(left.n).toBe(0);
  });
});
