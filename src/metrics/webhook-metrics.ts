import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsRegistry } from './metrics-registry';

/**
 * Webhook deliveries, counted by the worker that makes each attempt, once its record is written
 * (an attempt another worker already recorded counts nothing).
 */
@Injectable()
export class WebhookMetrics {
  private readonly attempts: Counter<'outcome'>;
  private readonly ended: Counter<'status'>;

  constructor({ registry }: MetricsRegistry) {
    this.attempts = new Counter({
      name: 'darkroom_webhook_attempts_total',
      help: 'Webhook delivery attempts, by outcome (delivered, http_error, timeout, network_error, refused, error)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.ended = new Counter({
      name: 'darkroom_webhook_deliveries_total',
      help: 'Webhook deliveries that ended, by status: delivered, or failed once WEBHOOK_RETRY_HOURS ran out',
      labelNames: ['status'],
      registers: [registry],
    });
  }

  attempted(outcome: string, ended: 'delivered' | 'failed' | null): void {
    this.attempts.inc({ outcome });
    if (ended) this.ended.inc({ status: ended });
  }
}
