import { Module } from '@nestjs/common';
import { HttpMetrics } from './http-metrics';
import { MetricsController } from './metrics.controller';
import { MetricsModule } from './metrics.module';
import { QueueDepthMetrics } from './queue-depth-metrics';

/**
 * The API's side of the metrics: GET /metrics, the HTTP request metrics (configureApp installs
 * HttpMetrics' middleware) and the queue depth, which the API reads since every deployment has one.
 */
@Module({
  imports: [MetricsModule],
  controllers: [MetricsController],
  providers: [HttpMetrics, QueueDepthMetrics],
  exports: [HttpMetrics],
})
export class MetricsApiModule {}
