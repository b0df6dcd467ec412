import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { loadConfig } from '../config/app-config';
import { WebhookSender } from './webhook-sender';

/** A real HTTP server on 127.0.0.1 that records the paths it is asked for. */
async function startServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ server: Server; base: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((request, response) => {
    paths.push(request.url ?? '');
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('WebhookSender', () => {
  const local = new WebhookSender(loadConfig({ ALLOW_HTTP_WEBHOOKS: 'true', ALLOW_PRIVATE_WEBHOOKS: 'true' }));
  const headers = { 'content-type': 'application/json', 'webhook-id': 'abc' };
  let receiver: Awaited<ReturnType<typeof startServer>>;
  const bodies: string[] = [];

  beforeAll(async () => {
    receiver = await startServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        if (request.url === '/redirect') {
          response.writeHead(302, { location: '/elsewhere' }).end();
        } else if (request.url === '/broken') {
          response.writeHead(500).end('oops');
        } else if (request.url === '/silent') {
          response.writeHead(200);
          response.write('still thinking');
        } else {
          response.writeHead(204).end();
        }
      });
    });
  });

  afterAll(async () => {
    receiver.server.closeAllConnections();
    await close(receiver.server);
  });

  it('POSTs the body and headers, and counts a 2xx as delivered', async () => {
    const result = await local.send(`${receiver.base}/hook`, '{"id":1}', headers);
    expect(result).toEqual({ outcome: 'delivered', statusCode: 204, error: null, durationMs: expect.any(Number) });
    expect(bodies[bodies.length - 1]).toBe('{"id":1}');
  });

  it('reaches a localhost URL through the addresses it checked', async () => {
    const port = new URL(receiver.base).port;
    expect(await local.send(`http://localhost:${port}/hook`, '{}', headers)).toMatchObject({ outcome: 'delivered', statusCode: 204 });
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const result = await local.send(`${receiver.base}/redirect`, '{}', headers);
    expect(result).toMatchObject({ outcome: 'http_error', statusCode: 302, error: 'Answered HTTP 302' });
    expect(receiver.paths).not.toContain('/elsewhere');
  });

  it('records a non-2xx status', async () => {
    expect(await local.send(`${receiver.base}/broken`, '{}', headers)).toMatchObject({ outcome: 'http_error', statusCode: 500 });
  });

  it('gives up on an answer that does not end in time', async () => {
    const result = await local.send(`${receiver.base}/silent`, '{}', headers, 300);
    expect(result).toMatchObject({ outcome: 'timeout', statusCode: null, error: 'No complete answer within 0.3 s' });
  });

  it('records a connection that fails', async () => {
    const gone = await startServer(() => undefined);
    await close(gone.server);
    const result = await local.send(`${gone.base}/hook`, '{}', headers);
    expect(result).toMatchObject({ outcome: 'network_error', statusCode: null, error: expect.stringContaining('ECONNREFUSED') });
  });

  it('checks the URL again at delivery, and sends nothing to a private address unless allowed', async () => {
    const strict = new WebhookSender(loadConfig({ ALLOW_HTTP_WEBHOOKS: 'true' }));
    const before = receiver.paths.length;
    const result = await strict.send(`${receiver.base.replace('http:', 'https:')}/hook`, '{}', headers);
    expect(result).toMatchObject({ outcome: 'refused', statusCode: null, error: expect.stringContaining('is a loopback address') });
    expect(receiver.paths).toHaveLength(before);
  });
});
