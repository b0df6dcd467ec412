import { Module } from '@nestjs/common';
import { JobMetrics } from './job-metrics';
import { MetricsRegistry } from './metrics-registry';
import { WebhookMetrics } from './webhook-metrics';

/**
 * The process's metrics, without any transport: the API serves them at GET /metrics
 * (MetricsApiModule), a worker on its own port (src/worker/worker-metrics.server.ts).
 */
@Module({
  providers: [MetricsRegistry, JobMetrics, WebhookMetrics],
  exports: [MetricsRegistry, JobMetrics, WebhookMetrics],
})
export class MetricsModule {}
