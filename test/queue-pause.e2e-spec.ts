import { NestExpressApplication } from '@nestjs/platform-express';
import { createAdmin, createUser, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, testEnv, TestEnv } from './utils/test-app';

/** The queues as an admin resource: their state, pause and resume, on each queue backend. */
describe.each(availableBackends())('pausing a queue, queue on $name', (backend) => {
  let env: TestEnv;
  let app: NestExpressApplication;
  let admin: TestUser;
  let user: TestUser;

  beforeAll(async () => {
    // A database of its own: the queues' counts cover every job of the installation.
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`queue_pause_${backend.name}`)).url, REDIS_URL: backend.redisUrl });
    app = await createTestApp(env);
    admin = await createAdmin(app);
    user = await createUser(app);
  });

  afterAll(async () => {
    await app?.close();
  });

  const queues = async (): Promise<Record<string, any>[]> =>
    (await api(app).get('/api/queues.json').set(bearer(admin.token)).expect(200)).body;
  /** A sample of the API's /metrics, once it reads `value` (a reading is cached for 2 s). */
  const metricReads = async (sample: string, value: number) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { text } = await api(app).get('/metrics').expect(200);
      const line = text.split('\n').find((row) => row.startsWith(`${sample} `));
      if (line === `${sample} ${value}`) return;
      if (Date.now() > deadline) throw new Error(`/metrics reads ${line ?? `no ${sample}`}, not ${value}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  it('lists the three queues to an admin, each with its pause, backlog and cap', async () => {
    expect(await queues()).toEqual(
      ['process', 'query', 'search'].map((name) => ({
        name,
        paused: false,
        pending: 0,
        pending_by_lane: { interactive: 0, bulk: 0 },
        waiting: 0,
        running: 0,
        concurrency_cap: null,
        updated_at: expect.any(String),
      })),
    );
  });

  it('pauses and resumes a queue; pausing it twice answers the same, and the pause outlives the API', async () => {
    const paused = (await api(app).post('/api/queues/search/pause.json').set(bearer(admin.token)).expect(200)).body;
    expect(paused).toMatchObject({ name: 'search', paused: true });
    const again = (await api(app).post('/api/queues/search/pause').set(bearer(admin.token)).expect(200)).body;
    expect(again).toEqual(paused);

    await app.close();
    app = await createTestApp(env);
    expect((await queues()).map((queue) => [queue.name, queue.paused])).toEqual([
      ['process', false],
      ['query', false],
      ['search', true],
    ]);
    await metricReads('darkroom_queue_paused{queue="search"}', 1);
    await metricReads('darkroom_queue_paused{queue="process"}', 0);

    const resumed = (await api(app).post('/api/queues/search/resume.json').set(bearer(admin.token)).expect(200)).body;
    expect(resumed).toMatchObject({ name: 'search', paused: false });
    expect(Date.parse(resumed.updated_at)).toBeGreaterThanOrEqual(Date.parse(paused.updated_at));
    expect((await queues()).every((queue) => !queue.paused)).toBe(true);
    await metricReads('darkroom_queue_paused{queue="search"}', 0);
  });

  it('refuses a non-admin with the admin routes’ 403, and names the known queues for an unknown one', async () => {
    const listed = await api(app).get('/api/queues.json').set(bearer(user.token)).expect(403);
    expect(listed.body).toEqual({ error: 'Only an admin may see the queues', details: [] });
    for (const action of ['pause', 'resume']) {
      const refused = await api(app).post(`/api/queues/process/${action}.json`).set(bearer(user.token)).expect(403);
      expect(refused.body.error).toBe('Only an admin may pause or resume a queue');
      // A non-admin learns nothing of which queues exist.
      await api(app).post(`/api/queues/nope/${action}.json`).set(bearer(user.token)).expect(403);
      const unknown = await api(app).post(`/api/queues/thumbnails/${action}.json`).set(bearer(admin.token)).expect(404);
      expect(unknown.body.error).toBe('No queue named "thumbnails": the queues are process, query, search');
    }
    await api(app).get('/api/queues.json').expect(401);
    expect((await queues()).every((queue) => !queue.paused)).toBe(true);
  });
});
