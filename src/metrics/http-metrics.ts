import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Counter, Histogram } from 'prom-client';
import { MetricsRegistry } from './metrics-registry';

/** A request no route matched (404s for unknown paths): one label for all, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route label of a request: the pattern of the route that served it (`/api/images/:id`),
 * never the URL itself, so the number of series stays that of the routes.
 */
export function routeLabel(request: Pick<Request, 'baseUrl'> & { route?: { path?: unknown } }): string {
  const path = request.route?.path;
  return typeof path === 'string' ? `${request.baseUrl ?? ''}${path}` : UNMATCHED_ROUTE;
}

const LABELS = ['method', 'route', 'status'] as const;

@Injectable()
export class HttpMetrics {
  private readonly requests: Counter<(typeof LABELS)[number]>;
  private readonly duration: Histogram<(typeof LABELS)[number]>;

  constructor({ registry }: MetricsRegistry) {
    this.requests = new Counter({
      name: 'darkroom_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: LABELS,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'darkroom_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being sent, by method, route pattern and status',
      labelNames: LABELS,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  /**
   * Express middleware, first in the chain so that every answer counts, the ones a guard, a body
   * parser or the 404 handler gives included. The route is read once the answer is sent: only then
   * has the router matched it. A client gone before the answer is not counted.
   */
  middleware(): RequestHandler {
    return (request: Request, response: Response, next: NextFunction) => {
      const started = performance.now();
      response.once('finish', () => {
        const labels = { method: request.method, route: routeLabel(request), status: String(response.statusCode) };
        this.requests.inc(labels);
        this.duration.observe(labels, (performance.now() - started) / 1000);
      });
      next();
    };
  }
}
