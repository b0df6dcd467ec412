import { Module } from '@nestjs/common';
import { JobLifecycleModule } from './job-lifecycle.module';
import { ReusableWorkRepository } from '../work-reuse/reusable-work.repository';
import { WorkReuse } from './work-reuse.service';

/** Reusing earlier identical work: the API on a job's creation, the worker step by step. */
@Module({
  imports: [JobLifecycleModule],
  providers: [ReusableWorkRepository, WorkReuse],
  exports: [WorkReuse, ReusableWorkRepository],
})
export class WorkReuseModule {}
