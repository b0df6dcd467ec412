import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ImagesModule } from '../images/images.module';
import { Job } from './job.entity';
import { JobInjectorController } from './job-injector.controller';
import { JobInjectorModule } from './job-injector.module';
import { JobLifecycleModule } from './job-lifecycle.module';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { WorkReuseModule } from '../work-reuse/work-reuse.module';

@Module({
  imports: [TypeOrmModule.forFeature([Job]), ImagesModule, JobLifecycleModule, JobInjectorModule, WebhooksModule, WorkReuseModule],
  controllers: [JobsController, JobInjectorController],
  providers: [JobsService],
  exports: [JobsService],
})
export class JobsModule {}
