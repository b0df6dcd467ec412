import { DynamicModule, Module, Provider } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ProcessPipeline } from './process-pipeline';
import { ProcessQueueProcessor } from './process.processor';

/**
 * Runs the pipelines of queued jobs. A worker process serves the queues WORKER_QUEUES names;
 * the `query` and `search` pipelines have no consumer yet, so their jobs wait.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [];
    if (config.WORKER_QUEUES.includes('process')) providers.push(ProcessPipeline, ProcessQueueProcessor);
    return { module: WorkerModule, providers };
  }
}
