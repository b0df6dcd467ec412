import { createSuiteDatabase } from './utils/suite-database';
import { NestExpressApplication } from '@nestjs/platform-express';
import { ChildProcess, fork } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { readEventStream, ReceivedEvent } from './utils/event-streams';
import { createStoredImage, createUser, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { sleep, WORKER_MAIN } from './utils/faults/processes';
import { ADMIN_TOKEN, api, bearer, createTestApp, testEnv, TestEnv, waitForJob } from './utils/test-app';

const STEPS = ['grayscale', 'histogram'];

/** `npm run start:worker` in its own OS process, on exactly this suite's environment (and so its queue backend). */
function startWorkerProcess(env: TestEnv): ChildProcess {
  const inherited = { ...process.env };
  delete inherited.REDIS_URL;
  const childEnv = Object.fromEntries(
    Object.entries({ ...inherited, ...env }).filter(([, value]) => value !== undefined),
  ) as NodeJS.ProcessEnv;
  const child = fork(WORKER_MAIN, [], { env: childEnv, stdio: 'pipe' });
  const log = createWriteStream(join(env.DATA_DIR!, 'worker.log'));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

const kinds = (events: ReceivedEvent[]) => events.map((event) => (event.event === 'status' ? `status:${event.data.status}` : event.event));
const FINAL = ['completed', 'failed', 'cancelled'];
const finalOf = (events: ReceivedEvent[]) => events.some((event) => event.event === 'status' && FINAL.includes(event.data.status));

describe.each(availableBackends())('live job events, queue on $name', (backend) => {
  let app: NestExpressApplication;
  let env: TestEnv;
  let base: string;
  let worker: ChildProcess;
  let ada: TestUser;
  let grace: TestUser;
  let image: number;

  // Forced: each job is run by the worker, step by step, rather than completed at creation from the first one's work.
  const createJob = async (owner: TestUser, imageId: number) =>
    (await api(app).post('/api/jobs.json').set(bearer(owner.token)).send({ image_id: imageId, job_type: STEPS, force: true }).expect(201))
      .body.id as number;

  beforeAll(async () => {
    // Each queue backend on an installation of its own: no work done on the other to reuse.
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(backend.name)).url, REDIS_URL: backend.redisUrl });
    app = await createTestApp(env);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/api`;
    worker = startWorkerProcess(env);
    ada = await createUser(app);
    grace = await createUser(app);
    image = (await createStoredImage(app, ada)).id;
  }, 60_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGKILL');
      await exited;
    }
    await app?.close();
  });

  it('streams a job run by a worker in another process, in order, and ends when the job is final', async () => {
    const jobId = await createJob(ada, image);
    const answer = await readEventStream(`${base}/jobs/${jobId}/events`, { headers: bearer(ada.token) });

    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(answer.headers.get('cache-control')).toContain('no-cache');
    expect(answer.headers.get('x-accel-buffering')).toBe('no');
    expect(answer.headers.get('content-encoding')).toBeNull();
    expect(answer.ended).toBe(true);
    expect(kinds(answer.events)).toEqual(['status:queued', 'status:running', 'progress', 'progress', 'status:completed']);
    expect(answer.events.map((event) => event.data.progress)).toEqual([0, 0, 50, 100, 100]);
    const ids = answer.events.map((event) => BigInt(event.id!));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const job = await waitForJob(app, ada.token, jobId);
    expect(answer.events[0].data).toMatchObject({ job_id: jobId, status: 'queued', attempts: 0, error: null, outputs: [], result: null });
    expect(answer.events[4].data).toMatchObject({
      job_id: jobId,
      status: 'completed',
      attempts: 1,
      error: null,
      outputs: job.outputs,
      result: null,
    });
    expect(job.outputs).toHaveLength(2);
  }, 60_000);

  it('misses nothing through a reconnection with Last-Event-ID', async () => {
    const jobId = await createJob(ada, image);
    const first = await readEventStream(`${base}/jobs/${jobId}/events`, {
      headers: bearer(ada.token),
      until: (events) => events.length >= 2,
    });
    expect(first.ended).toBe(false);
    // Events that came in the same read as the second one are kept too.
    expect(kinds(first.events).slice(0, 2)).toEqual(['status:queued', 'status:running']);
    await waitForJob(app, ada.token, jobId);

    const rest = await readEventStream(`${base}/jobs/${jobId}/events`, {
      headers: { ...bearer(ada.token), 'Last-Event-ID': first.events.at(-1)!.id! },
    });
    expect(rest.ended).toBe(true);
    const whole = await readEventStream(`${base}/jobs/${jobId}/events`, { headers: bearer(ada.token) });
    expect([...first.events, ...rest.events].map((event) => [event.id, event.event])).toEqual(
      whole.events.map((event) => [event.id, event.event]),
    );
    expect(kinds(whole.events)).toEqual(['status:queued', 'status:running', 'progress', 'progress', 'status:completed']);

    // Nothing left after the last event: the stream ends at once, empty.
    const none = await readEventStream(`${base}/jobs/${jobId}/events`, {
      headers: { ...bearer(ada.token), 'Last-Event-ID': whole.events[4].id! },
    });
    expect(none).toMatchObject({ status: 200, ended: true, events: [] });

    // An id that is not one of the job's kept events: say so, then send everything kept.
    const gap = await readEventStream(`${base}/jobs/${jobId}/events`, { headers: { ...bearer(ada.token), 'Last-Event-ID': '1' } });
    expect(gap.events[0]).toMatchObject({ id: undefined, event: 'replay_gap', data: { last_event_id: '1' } });
    expect(gap.events.slice(1).map((event) => event.id)).toEqual(whole.events.map((event) => event.id));
  }, 60_000);

  it('records one row per change, none for an unchanged progress, and gives a final state no longer kept as one status event', async () => {
    const jobId = await createJob(ada, image);
    const job = await waitForJob(app, ada.token, jobId);
    const database = app.get(DataSource);
    const rowsOf = async () =>
      (await database.query('SELECT type, data FROM job_events WHERE job_id = $1 ORDER BY id', [jobId])) as { type: string; data: any }[];
    const rows = await rowsOf();
    expect(rows.map((row) => (row.type === 'status' ? `status:${row.data.status}` : row.type))).toEqual([
      'status:queued',
      'status:running',
      'progress',
      'progress',
      'status:completed',
    ]);

    await database.query('UPDATE jobs SET progress = progress, status = status WHERE id = $1', [jobId]);
    expect(await rowsOf()).toHaveLength(rows.length);

    // As once EVENTS_REPLAY has passed and the sweep deleted them.
    await database.query('DELETE FROM job_events WHERE job_id = $1', [jobId]);
    const snapshot = await readEventStream(`${base}/jobs/${jobId}/events`, { headers: bearer(ada.token) });
    expect(snapshot.ended).toBe(true);
    expect(snapshot.events).toEqual([
      expect.objectContaining({
        id: undefined,
        event: 'status',
        data: {
          job_id: jobId,
          status: 'completed',
          progress: 100,
          attempts: 1,
          error: null,
          outputs: job.outputs,
          result: null,
          at: expect.any(String),
        },
      }),
    ]);
  }, 60_000);

  it("streams all of the caller's jobs, and never another user's", async () => {
    const graceImage = (await createStoredImage(app, grace)).id;
    const received: ReceivedEvent[] = [];
    let adaJob = 0;
    const reading = readEventStream(`${base}/jobs/events`, {
      headers: bearer(ada.token),
      onEvent: (event) => received.push(event),
      until: (events) => adaJob > 0 && events.some((event) => event.data.status === 'completed' && event.data.job_id === adaJob),
    });
    await sleep(300);
    const graceJob = await createJob(grace, graceImage);
    adaJob = await createJob(ada, image);
    const answer = await reading;
    await waitForJob(app, grace.token, graceJob);

    expect(answer.ended).toBe(false);
    expect(received.every((event) => event.data.job_id === adaJob)).toBe(true);
    expect(kinds(received)).toEqual(['status:queued', 'status:running', 'progress', 'progress', 'status:completed']);
  }, 60_000);

  it('takes a short-lived access_token that opens only the stream it was made for', async () => {
    const jobId = await createJob(ada, image);
    const other = await createJob(ada, image);
    const { body: token } = await api(app).post(`/api/jobs/${jobId}/events_token`).set(bearer(ada.token)).expect(201);
    expect(token.expires_in).toBe(60);

    const streamed = await readEventStream(`${base}/jobs/${jobId}/events?access_token=${encodeURIComponent(token.access_token)}`);
    expect(streamed.status).toBe(200);
    expect(finalOf(streamed.events)).toBe(true);

    const elsewhere = await readEventStream(`${base}/jobs/${other}/events?access_token=${encodeURIComponent(token.access_token)}`);
    expect(elsewhere.status).toBe(401);
    const all = await readEventStream(`${base}/jobs/events?access_token=${encodeURIComponent(token.access_token)}`);
    expect(all.status).toBe(401);
    await api(app).get('/api/jobs.json').set(bearer(token.access_token)).expect(401);
    await api(app).get(`/api/jobs/${jobId}.json`).query({ access_token: token.access_token }).expect(401);

    const { body: allToken } = await api(app).post('/api/jobs/events_token').set(bearer(ada.token)).expect(201);
    const first = await readEventStream(`${base}/jobs/events?access_token=${encodeURIComponent(allToken.access_token)}`, {
      until: () => true,
    });
    expect(first.status).toBe(200);
    expect((await readEventStream(`${base}/jobs/${jobId}/events?access_token=${encodeURIComponent(allToken.access_token)}`)).status).toBe(
      401,
    );
    await waitForJob(app, ada.token, other);
  }, 60_000);

  it('answers the usual JSON errors before a stream starts', async () => {
    const jobId = await createJob(ada, image);
    const missing = await readEventStream(`${base}/jobs/${jobId}/events`);
    expect(missing).toMatchObject({ status: 401, body: { error: expect.stringContaining('Missing credentials') } });
    // The bearer token is parsed and checked as on every other route, with the same answers.
    for (const headers of [bearer('not-a-session-token'), { Authorization: 'Basic YWRhOnNlY3JldA==' }]) {
      const elsewhere = await api(app).get('/api/jobs.json').set(headers).expect(401);
      expect(await readEventStream(`${base}/jobs/${jobId}/events`, { headers })).toMatchObject({ status: 401, body: elsewhere.body });
    }
    const notYours = await readEventStream(`${base}/jobs/${jobId}/events`, { headers: bearer(grace.token) });
    expect(notYours).toMatchObject({ status: 404, body: { error: `No job with id ${jobId}` } });
    await api(app).post(`/api/jobs/${jobId}/events_token`).set(bearer(grace.token)).expect(404);
    expect((await readEventStream(`${base}/jobs/999999999/events`, { headers: bearer(ada.token) })).status).toBe(404);
    const json = await readEventStream(`${base}/jobs/${jobId}/events`, { headers: { ...bearer(ada.token), Accept: 'application/json' } });
    expect(json.status).toBe(406);
    await waitForJob(app, ada.token, jobId);
    const asAdmin = await readEventStream(`${base}/jobs/${jobId}/events`, { headers: bearer(ADMIN_TOKEN) });
    expect({ status: asAdmin.status, last: asAdmin.events.at(-1)?.data.status }).toEqual({ status: 200, last: 'completed' });
  }, 60_000);
});
