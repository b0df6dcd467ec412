import { Module } from '@nestjs/common';
import { HttpMetrics } from './http-metrics';
import { MetricsController } from './metrics.controller';
import { MetricsModule } from './metrics.module';

/**
 * The API's side of the metrics: GET /metrics, the HTTP request metrics (configureApp installs
 * HttpMetrics' middleware). The queue depth is read by JobsModule, beside the job queue's producer.
 */
@Module({
  imports: [MetricsModule],
  controllers: [MetricsController],
  providers: [HttpMetrics],
  exports: [HttpMetrics],
})
export class MetricsApiModule {}
