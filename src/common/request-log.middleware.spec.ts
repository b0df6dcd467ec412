import express from 'express';
import { once } from 'node:events';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { currentLogFields } from './log-context';
import { requestLogging } from './request-log.middleware';

const FILE = Buffer.alloc(64 * 1024, 7);

/** An Express app with the request log, on a real port, logging JSON lines into `lines`. */
async function serve(lines: Record<string, unknown>[]): Promise<{ server: Server; url: string }> {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ mixin: () => ({ ...currentLogFields() }) }, sink);
  const app = express();
  app.use(requestLogging(logger));
  app.get('/ok', (_request, response) => void response.json({ ok: true }));
  app.get('/broken', (_request, response) => void response.status(503).json({ error: 'down' }));
  app.get('/slow', () => undefined);
  // A streamed file: every byte written, the end signalled only later, as a file stream's is.
  app.get('/file', (_request, response) => {
    response.setHeader('Content-Length', String(FILE.length));
    response.write(FILE);
    setTimeout(() => response.end(), 200);
  });
  // Answers at once, before its body has arrived.
  app.put('/answers-early', (_request, response) => void response.status(413).json({ error: 'too large' }));
  app.get('/signed-in', (request, response) => {
    (request as { principal?: { userId: number } }).principal = { userId: 42 };
    response.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function until<T>(find: () => T | undefined): Promise<T> {
  for (let waited = 0; waited < 2000; waited += 10) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no such log line');
}

describe('requestLogging', () => {
  const lines: Record<string, unknown>[] = [];
  let server: Server;
  let url: string;

  beforeAll(async () => ({ server, url } = await serve(lines)));
  afterAll(() => server.close());

  it('logs one line a request: method, URL as sent with its token redacted, status, time, and the id it answers', async () => {
    const answer = await fetch(`${url}/ok?n=1&access_token=secret-value&token=other-secret`);
    const id = answer.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = await until(() => lines.find((candidate) => candidate.req_id === id));
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { method: 'GET', url: '/ok?n=1&access_token=[redacted]&token=[redacted]' },
      res: { status: 200 },
      responseTime: expect.any(Number),
    });
    expect(JSON.stringify(lines)).not.toContain('secret');
    expect(lines.filter((candidate) => candidate.req_id === id)).toHaveLength(1);
  });

  it("keeps a caller's plausible X-Request-Id, and replaces any other", async () => {
    const kept = await fetch(`${url}/ok`, { headers: { 'X-Request-Id': 'caller-id.1:2' } });
    expect(kept.headers.get('x-request-id')).toBe('caller-id.1:2');
    const replaced = await fetch(`${url}/ok`, { headers: { 'X-Request-Id': 'not an id!' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs a 5xx answer as an error', async () => {
    const answer = await fetch(`${url}/broken`);
    expect(answer.status).toBe(503);
    const line = await until(() => lines.find((candidate) => candidate.req_id === answer.headers.get('x-request-id')));
    expect(line).toMatchObject({
      level: 50,
      msg: 'request errored',
      res: { status: 503 },
      err: { message: 'failed with status code 503' },
    });
  });

  it('logs a download as completed when the client hangs up on its last byte, before the stream signalled its end', async () => {
    const received = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${url}/file`, { headers: { 'X-Request-Id': 'whole-file' } }, (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes === FILE.length) {
            request.destroy();
            resolve(bytes);
          }
        });
      });
      request.on('error', (error) => (error.message === 'socket hang up' ? undefined : reject(error)));
      request.end();
    });
    expect(received).toBe(FILE.length);
    const line = await until(() => lines.find((candidate) => candidate.req_id === 'whole-file'));
    expect(line).toMatchObject({ msg: 'request completed', res: { status: 200 } });
  });

  it("names the signed-in user's id", async () => {
    const answer = await fetch(`${url}/signed-in`);
    const line = await until(() => lines.find((candidate) => candidate.req_id === answer.headers.get('x-request-id')));
    expect(line).toMatchObject({ user_id: 42, msg: 'request completed' });
  });

  it('logs an upload its client abandoned midway as aborted, even when the server answered it', async () => {
    const request = httpRequest(`${url}/answers-early`, {
      method: 'PUT',
      headers: { 'X-Request-Id': 'upload-cut-short', 'Content-Length': '100000' },
    });
    request.on('error', () => undefined);
    request.write(Buffer.alloc(1000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    request.destroy();
    const line = await until(() => lines.find((candidate) => candidate.req_id === 'upload-cut-short'));
    expect(line).toMatchObject({ msg: 'request aborted', req: { method: 'PUT' } });
  });

  it('logs a request whose client left before the answer as aborted, with its id', async () => {
    const request = httpRequest(`${url}/slow`, { headers: { 'X-Request-Id': 'gone-early' } });
    request.on('error', () => undefined);
    request.end();
    await until(() => (request.socket ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 50));
    request.destroy();
    const line = await until(() => lines.find((candidate) => candidate.req_id === 'gone-early'));
    expect(line).toMatchObject({ level: 30, msg: 'request aborted', req: { method: 'GET', url: '/slow' } });
  });
});
