import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';
import { METRICS_UNAUTHORIZED, metricsAccessAllowed } from '../metrics/metrics-access';
import { MetricsRegistry } from '../metrics/metrics-registry';

/**
 * A worker's own metrics (the jobs it completed and failed, their and their steps' durations,
 * its process figures) at http://<host>:WORKER_METRICS_PORT/metrics, for Prometheus to scrape
 * beside the API's GET /metrics. A bare node:http server: a worker has no HTTP framework. Each
 * worker on a machine needs a port of its own; a worker whose port is taken says so and runs on,
 * without one, since its jobs matter more than its figures.
 */
@Injectable()
export class WorkerMetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerMetrics');
  private server: Server | null = null;

  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.WORKER_METRICS_PORT;
    if (port === 0) return;
    const server = createServer((request, response) => {
      this.answer(request, response).catch((error: Error) => {
        this.logger.error(`Metrics scrape failed: ${error.stack ?? error.message}`);
        if (!response.headersSent) send(response, 500, 'application/json', JSON.stringify({ error: 'Internal server error', details: [] }));
        else response.destroy();
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'EADDRINUSE'
          ? 'is in use (another worker on this machine?); give each worker its own'
          : `cannot be used (${(error as Error).message})`;
      this.logger.warn(`Port ${port} (WORKER_METRICS_PORT) ${why}: this worker runs on without exporting its metrics`);
      return;
    }
    this.server = server;
    this.logger.log(`Metrics at http://localhost:${port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://worker');
    if (url.pathname !== '/metrics') {
      return send(response, 404, 'application/json', JSON.stringify({ error: 'Not found: the metrics are at /metrics', details: [] }));
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return send(response, 405, 'application/json', JSON.stringify({ error: `${request.method} is not allowed: use GET`, details: [] }));
    }
    const tokens = url.searchParams.getAll('token');
    if (
      !metricsAccessAllowed(
        this.config.METRICS_TOKEN,
        request.headers.authorization,
        tokens.length === 1 ? tokens[0] : tokens.length ? tokens : undefined,
      )
    ) {
      response.setHeader('WWW-Authenticate', 'Bearer');
      return send(response, 401, 'application/json', JSON.stringify({ error: METRICS_UNAUTHORIZED, details: [] }));
    }
    const { contentType, text } = await this.metrics.exposition();
    send(response, 200, contentType, request.method === 'HEAD' ? '' : text);
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}
