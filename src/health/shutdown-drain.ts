import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';

/** Readiness's reason while the node drains (`error.node.message`). */
export const DRAINING_MESSAGE = 'draining: this node is shutting down';

/**
 * An API node's stop on SIGTERM, in two stages that main.ts drives. The drain: readiness answers
 * 503 at once while every other route is served as before, for long enough that a load balancer,
 * which asks readiness every few seconds, stops sending requests here. Then the close (Nest's
 * app.close, which ends the event streams before it closes the HTTP server): every answer from
 * then on closes its connection, so that the server closes as soon as the last request in flight
 * is answered instead of keeping a finished request's connection for the keep-alive timeout.
 * Requests still unanswered SHUTDOWN_GRACE seconds into the close have their connections closed,
 * naming them in the log, so that no request can hold a node's stop for ever.
 */
@Injectable()
export class ShutdownDrain implements BeforeApplicationShutdown {
  private drainStarted = false;
  private closing = false;
  private readonly logger = new Logger(ShutdownDrain.name);
  /** Each request in flight, by its response: its method and URL. */
  private readonly inFlight = new Map<ServerResponse, string>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: AppConfig,
  ) {}

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
    return (request, response, next) => {
      if (this.closing) response.setHeader('Connection', 'close');
      this.inFlight.set(response, `${request.method} ${request.url}`);
      response.once('close', () => this.inFlight.delete(response));
      next();
    };
  }

  /** Runs before Nest closes the HTTP server. */
  beforeApplicationShutdown(): void {
    this.drainStarted = true;
    this.closing = true;
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    for (const response of this.inFlight.keys()) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
      // Already promised keep-alive: its connection turns idle once the answer is sent.
      else response.once('finish', () => setImmediate(() => server?.closeIdleConnections()));
    }
    const deadline = setTimeout(() => {
      if (this.inFlight.size === 0) return;
      this.logger.warn(
        `${this.inFlight.size} request(s) still unanswered ${this.config.SHUTDOWN_GRACE} s (SHUTDOWN_GRACE) into the stop, ` +
          `their connections closed: ${[...this.inFlight.values()].slice(0, 10).join(', ')}`,
      );
      server?.closeAllConnections();
    }, this.config.SHUTDOWN_GRACE * 1000);
    deadline.unref();
  }
}
