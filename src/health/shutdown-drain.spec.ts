import type { HttpAdapterHost } from '@nestjs/core';
import { Agent, createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../config/app-config';
import { ShutdownDrain } from './shutdown-drain';

describe('ShutdownDrain', () => {
  afterEach(() => jest.useRealTimers());

  it('fails readiness from the start of the drain, which lasts the seconds given', async () => {
    jest.useFakeTimers();
    const drain = new ShutdownDrain({} as HttpAdapterHost, { SHUTDOWN_GRACE: 30 } as AppConfig);
    expect(drain.draining).toBe(false);
    let drained = false;
    const draining = drain.drain(2).then(() => (drained = true));
    expect(drain.draining).toBe(true);
    await jest.advanceTimersByTimeAsync(1999);
    expect(drained).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await draining;
    expect(drained).toBe(true);
  });

  describe('the close', () => {
    let server: Server;
    let drain: ShutdownDrain;
    let agent: Agent;
    /** The requests the server holds, by path, until the test answers them. */
    const held = new Map<string, ServerResponse>();

    beforeEach(async () => {
      server = createServer();
      drain = new ShutdownDrain(
        { httpAdapter: { getHttpServer: () => server } } as unknown as HttpAdapterHost,
        { SHUTDOWN_GRACE: 1 } as AppConfig,
      );
      const middleware = drain.middleware();
      server.on('request', (request: IncomingMessage, response: ServerResponse) =>
        middleware(request, response, () => {
          if (request.url === '/quick') response.end('quick');
          else {
            if (request.url === '/streaming') response.write('first part;');
            held.set(request.url!, response);
          }
        }),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      // Node's default agent keeps connections alive, as browsers and load balancers do.
      agent = new Agent({ keepAlive: true });
    });

    afterEach(() => {
      agent.destroy();
      server.closeAllConnections();
      server.close();
      held.clear();
    });

    const request = (path: string) =>
      new Promise<{ body: string; connection: string | undefined }>((resolve, reject) => {
        get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path, agent }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ body, connection: response.headers.connection }));
        }).on('error', reject);
      });
    const heldAt = async (path: string) => {
      while (!held.has(path)) await new Promise((resolve) => setImmediate(resolve));
      return held.get(path)!;
    };

    it('closes the connections of requests still unanswered SHUTDOWN_GRACE seconds into the stop', async () => {
      const stuck = request('/stuck');
      await heldAt('/stuck');
      drain.beforeApplicationShutdown();
      const startedClosing = Date.now();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(Date.now() - startedClosing).toBeGreaterThanOrEqual(900);
      await expect(stuck).rejects.toThrow(/socket hang up|ECONNRESET/);
    });

    it('answers the requests in flight, then closes their connections: the server closes with the last answer', async () => {
      expect(await request('/quick')).toEqual({ body: 'quick', connection: 'keep-alive' });
      const waiting = request('/waiting');
      const streaming = request('/streaming');
      const [waitingResponse, streamingResponse] = [await heldAt('/waiting'), await heldAt('/streaming')];

      drain.beforeApplicationShutdown();
      expect(drain.draining).toBe(true);
      const startedClosing = Date.now();
      const closed = new Promise<number>((resolve) => server.close(() => resolve(Date.now())));
      waitingResponse.end('done');
      streamingResponse.end('last part');

      // Not sent yet when the close began: it says that the connection closes.
      expect(await waiting).toEqual({ body: 'done', connection: 'close' });
      // Sent before, promising keep-alive: its connection is closed once idle.
      expect(await streaming).toEqual({ body: 'first part;last part', connection: 'keep-alive' });
      // Well before the 5 s keep-alive timeout that would otherwise hold the server open.
      expect((await closed) - startedClosing).toBeLessThan(1000);
    });
  });
});
