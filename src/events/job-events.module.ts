import { Module } from '@nestjs/common';
import { JobLifecycleModule } from '../job-runs/job-lifecycle.module';
import { SessionsModule } from '../sessions/sessions.module';
import { JobEventsController } from './job-events.controller';
import { JobEventsService } from './job-events.service';

/**
 * Live job events over Server-Sent Events. Imported before JobsModule, so that
 * GET /api/jobs/events is routed here rather than to GET /api/jobs/:id.
 */
@Module({
  imports: [JobLifecycleModule, SessionsModule],
  controllers: [JobEventsController],
  providers: [JobEventsService],
})
export class JobEventsModule {}
