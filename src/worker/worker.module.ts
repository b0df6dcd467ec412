import { DynamicModule, Module, Provider } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { HistogramCache } from '../histograms/histogram-cache';
import { ReducerThreads } from './aggregates/reducer-threads';
import { JobLifecycleModule } from '../job-runs/job-lifecycle.module';
import { MetricsModule } from '../metrics/metrics.module';
import { AggregatePipeline } from './aggregate-pipeline';
import { QueryQueueProcessor, SearchQueueProcessor } from './aggregate.processors';
import { ImageVerificationRepository } from './image-verification.repository';
import { ImageVerifier } from './image-verifier';
import { JobOutputRepository } from '../job-runs/job-output.repository';
import { JobRunner } from '../job-runs/job-runner';
import { JobStopListener } from '../job-runs/job-stop-listener';
import { ProcessPipeline } from './process-pipeline';
import { ProcessQueueProcessor } from './process.processor';
import { WorkerMetricsServer } from './worker-metrics.server';
import { WebhookQueueModule } from '../queue/webhook-queue';
import { WebhookRepositoryModule } from '../webhooks/webhook.repository';
import { WebhookDeliverer } from './webhook-deliverer';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhookSender } from './webhook-sender';
import { WorkReuseModule } from '../job-runs/work-reuse.module';

/**
 * Runs the pipelines of queued jobs, consuming the queues WORKER_QUEUES names, and delivers
 * webhooks (every worker serves the `webhooks` queue). No HTTP module.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [
      JobRunner,
      JobOutputRepository,
      JobStopListener,
      WorkerMetricsServer,
      WebhookSender,
      WebhookDeliverer,
      WebhookDeliveryProcessor,
      WebhookDispatcher,
    ];
    if (config.WORKER_QUEUES.includes('process'))
      providers.push(ProcessPipeline, ProcessQueueProcessor, ImageVerificationRepository, ImageVerifier);
    if (config.WORKER_QUEUES.includes('query') || config.WORKER_QUEUES.includes('search'))
      providers.push(AggregatePipeline, HistogramCache, ReducerThreads);
    if (config.WORKER_QUEUES.includes('query')) providers.push(QueryQueueProcessor);
    if (config.WORKER_QUEUES.includes('search')) providers.push(SearchQueueProcessor);
    return {
      module: WorkerModule,
      imports: [JobLifecycleModule, MetricsModule, WorkReuseModule, WebhookRepositoryModule, WebhookQueueModule.register()],
      providers,
    };
  }
}
