import { request as httpRequest } from 'node:http';
import { readEventStream } from './utils/event-streams';
import { fixture } from './utils/factories';
import { availableBackends, Cluster } from './utils/faults/cluster';
import { runServer } from './utils/faults/postgres';
import { pollUntil, sleep } from './utils/faults/processes';

/*
 * Issue 21: SIGTERM on an API node, as an orchestrator sends it. Readiness answers 503 at once,
 * naming the cause, while every other request is still served for SHUTDOWN_DRAIN seconds; then
 * the job event streams end with a `retry:` hint, the requests still in flight are answered, and
 * the process exits 0.
 */

const DRAIN_SECONDS = 2;

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

/** A PUT of `file` as an image's original whose body stops half-way until `finish()`: a slow upload. */
function heldUpload(url: string, token: string, file: Buffer): { answer: Promise<Answer>; finish(): void } {
  const half = Math.floor(file.length / 2);
  const request = httpRequest(url, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'image/png', 'Content-Length': file.length },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    request.on('error', reject);
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, connection: response.headers.connection, body }));
    });
  });
  request.write(file.subarray(0, half));
  return { answer, finish: () => request.end(file.subarray(half)) };
}

describe('SIGTERM on an API node: the drain', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    // No worker: the job stays queued, so its event stream stays open until the node ends it.
    cluster = await Cluster.create('drain', availableBackends()[0], runServer(), `drain_${process.pid}`, {
      SHUTDOWN_DRAIN: String(DRAIN_SECONDS),
    });
    await cluster.startApi();
    await cluster.signUp();
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it('fails readiness at once, serves for SHUTDOWN_DRAIN, ends event streams with retry:, answers the upload in flight, exits 0', async () => {
    const api = cluster.api!;
    const { client } = cluster;
    const base = client.baseUrl;
    const token = client.token!;
    const imageId = await cluster.upload(fixture('astronaut.png'));
    const [jobId] = await cluster.submit(1, () => ({ image_id: imageId, job_type: ['grayscale'] }));

    let opened!: () => void;
    const streamOpen = new Promise<void>((resolve) => (opened = resolve));
    const stream = readEventStream(`${base}/api/jobs/${jobId}/events`, {
      headers: { Authorization: `Bearer ${token}` },
      onComment: (comment) => comment === 'stream open' && opened(),
      timeoutMs: 30_000,
    }).then((answer) => ({ ...answer, endedAt: Date.now() }));
    await streamOpen;
    const image = await client.expect(201, 'POST', '/api/images.json', {});
    const upload = heldUpload(`${base}/api/images/${image.id}/file`, token, fixture('astronaut.png'));
    // Lets the upload's headers and first half reach the server before the signal.
    await sleep(300);

    const signalledAt = Date.now();
    const exited = api.signal('SIGTERM', 30_000);

    const notReady = await pollUntil(
      'readiness to answer 503',
      async () => {
        const answer = await client.request('GET', '/api/health/ready');
        return answer.status === 503 && answer;
      },
      1_500,
      20,
    );
    expect(notReady.body).toMatchObject({
      status: 'error',
      error: { node: { status: 'down', message: 'draining: this node is shutting down' } },
    });
    expect((await client.request('GET', '/api/health')).status).toBe(200);
    await sleep(DRAIN_SECONDS * 500);
    const job = await client.getJob(jobId);
    const jobAnsweredAt = Date.now();
    expect({ status: job.status, id: job.body?.id }).toEqual({ status: 200, id: jobId });

    const ended = await stream;
    expect(ended.ended).toBe(true);
    expect(ended.endedAt - signalledAt).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000 - 50);
    expect(jobAnsweredAt).toBeLessThan(ended.endedAt);
    expect(ended.retries).toHaveLength(1);
    expect(ended.retries[0]).toBeGreaterThanOrEqual(500);
    expect(ended.retries[0]).toBeLessThan(3000);
    expect(ended.comments).toContain('this node is shutting down; reconnect with Last-Event-ID');
    // The HTTP server is closing, and waits for the upload.
    expect(api.running).toBe(true);

    upload.finish();
    const uploaded = await upload.answer;
    expect({ status: uploaded.status, connection: uploaded.connection }).toEqual({ status: 200, connection: 'close' });
    expect(JSON.parse(uploaded.body)).toMatchObject({ id: image.id, bytes: fixture('astronaut.png').length });
    const answeredAt = Date.now();
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - answeredAt).toBeLessThan(5_000);
    expect(api.log()).toContain(`SIGTERM: draining for ${DRAIN_SECONDS} s (SHUTDOWN_DRAIN)`);
  }, 60_000);
});
