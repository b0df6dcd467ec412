import { Module } from '@nestjs/common';
import { JobLifecycleModule } from '../job-runs/job-lifecycle.module';
import { SessionsModule } from '../sessions/sessions.module';
import { JobEventsController } from './job-events.controller';
import { JobEventHub } from './job-event-hub';
import { JobEventRepository } from './job-event.repository';
import { JobEventsAccess } from './job-events-access';
import { JobEventsSweeper } from './job-events-sweeper';
import { JobEventsService } from './job-events.service';

/**
 * Live job events over Server-Sent Events. Imported before JobsModule, so that
 * GET /api/jobs/events is routed here rather than to GET /api/jobs/:id.
 */
@Module({
  imports: [JobLifecycleModule, SessionsModule],
  controllers: [JobEventsController],
  providers: [JobEventsService, JobEventsAccess, JobEventHub, JobEventsSweeper, JobEventRepository],
  // One hub, one LISTEN connection, per process: derivatives wait on it for their jobs' ends.
  exports: [JobEventHub],
})
export class JobEventsModule {}
