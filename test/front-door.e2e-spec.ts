import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../src/common/free-port';
import { fixture, unique } from './utils/factories';
import { API_MAIN, ManagedProcess, PollAbort, pollUntil, startNode } from './utils/faults/processes';
import { testEnv } from './utils/test-app';

/** The log's lines as a person at the terminal sees them, without the harness's own. */
function terminalLines(process: ManagedProcess): string[] {
  return process
    .log()
    .split('\n')
    .filter((line) => line && !line.startsWith('[harness]'));
}

/** The pid of the worker process `parent` runs (Linux: /proc). */
function workerOf(parent: number): number | undefined {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('worker.main.js')) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** GETs `url` and hangs up on the answer's last byte, as curl does: the bytes received. */
function downloadAndHangUp(url: string, headers: Record<string, string>): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers }, (response) => {
      const length = Number(response.headers['content-length']);
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes === length) {
          request.destroy();
          resolve({ status: response.statusCode!, bytes });
        }
      });
    });
    request.on('error', (error) => (error.message === 'socket hang up' ? undefined : reject(error)));
    request.end();
  });
}

/** `npm start` as a person at a terminal meets it: the API and its worker, logging for people. */
describe('the front door: npm start in pretty mode', () => {
  let server: ManagedProcess;
  let port: number;
  let base: string;
  let ready: string;

  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env: Record<string, string | undefined> = {
      ...testEnv(),
      LOG_FORMAT: 'pretty',
      LOG_LEVEL: 'info',
      REDIS_URL: undefined,
      PORT: String(port),
    };
    server = startNode(
      'darkroom',
      API_MAIN,
      [],
      { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      join(env.DATA_DIR!, 'server.log'),
    );
    ready = await pollUntil(
      'the ready line',
      async () => {
        if (!server.running) throw new PollAbort(`The server exited:\n${server.tail()}`);
        return terminalLines(server).find((line) => line.includes('Darkroom is ready'));
      },
      90_000,
      100,
    );
  }, 120_000);

  afterAll(async () => {
    await server?.signal('SIGTERM', 30_000);
  }, 40_000);

  it('names URLs on the ready line that answer, on the real port', async () => {
    const urls = ready.match(/http:\/\/\S+/g) ?? [];
    expect(urls).toEqual([`http://localhost:${port}/api`, `http://localhost:${port}/api/docs`, `http://localhost:${port}/admin/queues`]);
    for (const url of urls) {
      const answer = await fetch(url.replace('localhost', '127.0.0.1'));
      expect({ url, status: answer.status }).toEqual({ url, status: url.endsWith('/admin/queues') ? 401 : 200 });
      expect(answer.headers.get('content-type')).toMatch(url.endsWith('/api') ? /^application\/json/ : /^text\/html/);
    }
    const index = (await (await fetch(`${base}/api`)).json()) as Record<string, string>;
    expect(index).toMatchObject({ docs: '/api/docs', openapi: '/api/docs-json', dashboard: '/admin/queues', health: '/api/health' });
    for (const path of [index.openapi, index.health]) expect((await fetch(`${base}${path}`)).status).toBe(200);
  });

  it('writes one line a request and one per job start and end, and logs whole downloads as completed', async () => {
    let sequence = 0;
    const sent: { id: string; method: string; path: string; status: number }[] = [];
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const id = `front-${++sequence}`;
      const answer = await fetch(`${base}${path}`, {
        method,
        headers: { 'X-Request-Id': id, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      sent.push({ id, method, path, status: answer.status });
      return answer;
    };
    const username = unique('front');
    const signUp = await call('POST', '/api/users.json', { username, email: `${username}@example.com`, password: 'password123' });
    expect(signUp.status).toBe(201);
    const { authentication_token: token, id: userId } = (await signUp.json()) as { authentication_token: string; id: number };
    const auth = { Authorization: `Bearer ${token}` };
    const image = (await (await call('POST', '/api/images.json', {}, auth)).json()) as { id: number };
    const upload = await fetch(`${base}/api/images/${image.id}/file`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'image/png', 'X-Request-Id': 'front-upload' },
      body: fixture('astronaut.png'),
    });
    expect(upload.status).toBe(200);
    sent.push({ id: 'front-upload', method: 'PUT', path: `/api/images/${image.id}/file`, status: 200 });
    await call('GET', '/api/images.json', undefined, auth);
    await call('GET', '/api/jobs/999999999.json', undefined, auth);
    const job = (await (await call('POST', '/api/jobs.json', { image_id: image.id, job_type: ['grayscale'] }, auth)).json()) as {
      id: number;
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = `front-download-${attempt}`;
      const { status, bytes } = await downloadAndHangUp(`${base}/api/images/${image.id}/file`, { ...auth, 'X-Request-Id': id });
      expect({ status, bytes }).toEqual({ status: 200, bytes: fixture('astronaut.png').length });
      sent.push({ id, method: 'GET', path: `/api/images/${image.id}/file`, status: 200 });
    }
    await pollUntil(
      `job ${job.id}'s end`,
      async () => terminalLines(server).find((line) => line.includes(`Job ${job.id} completed`)),
      60_000,
      200,
    );
    await pollUntil(
      'every request logged',
      async () => sent.every(({ id }) => server.log().includes(`req ${id}`)) || undefined,
      10_000,
      100,
    );

    const lines = terminalLines(server);
    // Every line is a line of its own: a time, a level, a message; no block of fields under it.
    expect(lines.filter((line) => !/^\d\d:\d\d:\d\d\.\d{3} [A-Z]+ +\S/.test(line))).toEqual([]);
    for (const { id, method, path, status } of sent) {
      const logged = lines.filter((line) => line.endsWith(`req ${id}`));
      expect(logged).toHaveLength(1);
      const user = id === 'front-1' ? '' : ` · user ${userId}`;
      expect(logged[0]).toMatch(new RegExp(` INFO +${method} ${path.replaceAll('.', '\\.')} ${status} \\d+ ms${user} · req ${id}$`));
    }
    expect(lines.filter((line) => line.includes(`Job ${job.id} started`))).toHaveLength(1);
    expect(lines.filter((line) => line.includes(`Job ${job.id} completed`))).toHaveLength(1);
    expect(lines.filter((line) => line.includes(' aborted'))).toEqual([]);
  }, 90_000);

  it('restarts a worker that dies; the new one is given the database and runs jobs', async () => {
    const first = workerOf(server.pid!);
    expect(first).toEqual(expect.any(Number));
    process.kill(first!, 'SIGKILL');
    await pollUntil(
      'a second worker serving',
      async () => terminalLines(server).filter((line) => line.includes('[Worker] Serving queues')).length === 2 || undefined,
      60_000,
      200,
    );
    expect(terminalLines(server).some((line) => line.includes('The worker exited (SIGKILL); restarting it'))).toBe(true);
    const username = unique('restart');
    const signUp = await fetch(`${base}/api/users.json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'password123' }),
    });
    const auth = { Authorization: `Bearer ${((await signUp.json()) as { authentication_token: string }).authentication_token}` };
    const image = (await (await fetch(`${base}/api/images.json`, { method: 'POST', headers: auth })).json()) as { id: number };
    await fetch(`${base}/api/images/${image.id}/file`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'image/png' },
      body: fixture('astronaut.png'),
    });
    const job = (await (
      await fetch(`${base}/api/jobs.json`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ image_id: image.id, job_type: ['grayscale'] }),
      })
    ).json()) as { id: number };
    const done = await pollUntil(
      `job ${job.id} to complete`,
      async () => {
        const state = (await (await fetch(`${base}/api/jobs/${job.id}.json`, { headers: auth })).json()) as { status: string };
        return state.status === 'completed' ? state : undefined;
      },
      60_000,
      200,
    );
    expect(done.status).toBe('completed');
  }, 120_000);
});
