import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { freePort } from '../src/common/free-port';
import { fixture, unique } from './utils/factories';
import { API_MAIN, ManagedProcess, pollUntil, startNode, WORKER_MAIN } from './utils/faults/processes';
import { testEnv } from './utils/test-app';

type LogLine = Record<string, unknown>;

/** Every JSON line of a process's log; the harness's own lines are not JSON and are skipped. */
function jsonLines(process: ManagedProcess): LogLine[] {
  return readFileSync(process.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

describe('structured logs of the API and worker processes', () => {
  const env: Record<string, string | undefined> = { ...testEnv(), LOG_FORMAT: 'json', LOG_LEVEL: 'debug', REDIS_URL: undefined };
  let api: ManagedProcess;
  let worker: ManagedProcess;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const inherited = { PATH: process.env.PATH, HOME: process.env.HOME };
    api = startNode('api', API_MAIN, ['--api-only'], { ...inherited, ...env, PORT: String(port) }, join(env.DATA_DIR!, 'api.log'));
    worker = startNode('worker', WORKER_MAIN, [], { ...inherited, ...env }, join(env.DATA_DIR!, 'worker.log'));
    await pollUntil('the API to answer', async () => (await fetch(`${base}/api/image_types.json`).catch(() => null)) !== null, 60_000, 200);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([api?.signal('SIGTERM'), worker?.signal('SIGTERM')]);
  });

  it('writes JSON lines carrying the request id in the API and the job id and step in the worker', async () => {
    const username = unique('logs');
    const signUp = await request(base)
      .post('/api/users.json')
      .send({ username, email: `${username}@example.com`, password: 'password123' });
    expect(signUp.status).toBe(201);
    const auth = { Authorization: `Bearer ${signUp.body.authentication_token}` };
    const image = await request(base).post('/api/images.json').set(auth).send({}).expect(201);
    await request(base)
      .put(`/api/images/${image.body.id}/file`)
      .set(auth)
      .set('Content-Type', 'image/png')
      .send(fixture('astronaut.png'))
      .expect(200);
    const created = await request(base)
      .post('/api/jobs.json')
      .set(auth)
      .set('X-Request-Id', 'client-chosen-id-1')
      .send({ image_id: image.body.id, job_type: ['grayscale', 'histogram'] })
      .expect(201);
    expect(created.headers['x-request-id']).toBe('client-chosen-id-1');
    const jobId = created.body.id as number;
    const generated = await request(base).get(`/api/jobs/${jobId}.json?access_token=secret-value`).set(auth).set('X-Request-Id', 'bad id!');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const ended = await pollUntil(
      `job ${jobId}'s end in the worker's log`,
      async () => jsonLines(worker).find((line) => line.event === 'job_ended' && line.job_id === jobId),
      30_000,
      200,
    );
    expect(ended).toMatchObject({ level: 'info', outcome: 'completed', attempt: 1, pid: worker.pid });
    expect(ended.duration_ms).toEqual(expect.any(Number));
    const workerLines = jsonLines(worker);
    expect(workerLines.find((line) => line.event === 'job_started' && line.job_id === jobId)).toMatchObject({
      job_type: 'process,grayscale,histogram',
    });
    const steps = workerLines.filter((line) => line.event === 'step_ended' && line.job_id === jobId);
    expect(steps.every((line) => line.job_type === undefined && line.attempt === undefined)).toBe(true);
    expect(steps.map((line) => [line.step, line.operation])).toEqual([
      [0, 'grayscale'],
      [1, 'histogram'],
    ]);

    const apiLines = jsonLines(api);
    const creation = apiLines.find((line) => line.req_id === 'client-chosen-id-1');
    expect(creation).toMatchObject({ msg: 'request completed', req: { method: 'POST', url: '/api/jobs.json' }, res: { status: 201 } });
    const read = apiLines.find((line) => line.req_id === generated.headers['x-request-id']);
    expect(read).toMatchObject({ req: { url: `/api/jobs/${jobId}.json?access_token=[redacted]` } });
    expect(JSON.stringify(apiLines)).not.toContain('secret-value');
    expect(JSON.stringify(apiLines)).not.toContain(signUp.body.authentication_token);
  }, 60_000);

  it('writes how long each start phase took at debug level', () => {
    const phases = (process: ManagedProcess) =>
      jsonLines(process)
        .filter((line) => line.event === 'start_phase')
        .map((line) => {
          expect(line).toMatchObject({ level: 'debug', duration_ms: expect.any(Number) });
          return line.phase;
        });
    expect(phases(api)).toEqual([
      'loading the code',
      'loading the API code',
      'embedded PostgreSQL or DATABASE_URL',
      'migrations check',
      'API modules',
      'API set-up',
      'API init and listen',
      'in all',
    ]);
    expect(phases(worker)).toEqual(['loading the code', 'migrations check', 'worker modules', 'in all']);
  });
});
