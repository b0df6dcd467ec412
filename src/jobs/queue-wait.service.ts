import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Job, JOB_STATUS } from '../job-runs/job.entity';
import { QueueStandingRepository } from './queue-standing.repository';
import { otherLaneLimit, queueWait, type QueueWait } from './queue-wait';

/** Where a queued job stands in its queue, for GET /api/jobs/:id.json alone: lists and webhooks leave it out. */
@Injectable()
export class QueueWaitService {
  constructor(
    private readonly standings: QueueStandingRepository,
    private readonly config: AppConfig,
  ) {}

  /** Null for a job that is not queued, or that left the queue since it was read. */
  async of(job: Job): Promise<QueueWait | null> {
    if (job.status !== JOB_STATUS.queued) return null;
    const standing = await this.standings.standingOf(job.id, this.config.QUEUE_ORDER, (lane, pendingAhead) =>
      otherLaneLimit(lane, pendingAhead, this.config.BULK_SHARE),
    );
    return standing && queueWait(standing, new Date());
  }
}
