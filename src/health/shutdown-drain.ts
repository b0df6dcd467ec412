import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Readiness's reason while the node drains (`error.node.message`). */
export const DRAINING_MESSAGE = 'draining: this node is shutting down';

/**
 * An API node's stop on SIGTERM, in two stages that main.ts drives. The drain: readiness answers
 * 503 at once while every other route is served as before, for long enough that a load balancer,
 * which asks readiness every few seconds, stops sending requests here. Then the close (Nest's
 * app.close, which ends the event streams before it closes the HTTP server): every answer from
 * then on closes its connection, so that the server closes as soon as the last request in flight
 * is answered instead of keeping a finished request's connection for the keep-alive timeout.
 */
@Injectable()
export class ShutdownDrain implements BeforeApplicationShutdown {
  private drainStarted = false;
  private closing = false;
  private readonly inFlight = new Set<ServerResponse>();

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  get draining(): boolean {
    return this.drainStarted;
  }

  /** Readiness fails from now on; resolves `seconds` later. */
  async drain(seconds: number): Promise<void> {
    this.drainStarted = true;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }

  /** Knows the requests in flight, to close their connections once they are answered during the close. */
  middleware(): (request: IncomingMessage, response: ServerResponse, next: () => void) => void {
    return (_request, response, next) => {
      if (this.closing) response.setHeader('Connection', 'close');
      else {
        this.inFlight.add(response);
        response.once('close', () => this.inFlight.delete(response));
      }
      next();
    };
  }

  /** Runs before Nest closes the HTTP server. */
  beforeApplicationShutdown(): void {
    this.drainStarted = true;
    this.closing = true;
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    for (const response of this.inFlight) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
      // Already promised keep-alive: its connection turns idle once the answer is sent.
      else response.once('finish', () => setImmediate(() => server?.closeIdleConnections()));
    }
  }
}
