import { Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { Principal } from '../identity/principal';
import { AppConfig } from '../config/app-config';
import { JobRepository } from '../job-runs/job.repository';
import { EventStream, JobEventMessage } from './event-stream';
import { JobEventHub } from './job-event-hub';
import { EventFilter, JobEventRepository, toMessage } from './job-event.repository';

const REPLAY_BATCH = 500;
const FINAL_STATUSES = ['completed', 'failed', 'cancelled'];

/**
 * The event streams: each replays what the `job_events` table still keeps (`Last-Event-ID`),
 * then follows the live events JobEventHub hears. Who may open one is JobEventsAccess's call.
 */
@Injectable()
export class JobEventsService {
  private readonly logger = new Logger(JobEventsService.name);

  constructor(
    private readonly hub: JobEventHub,
    private readonly events: JobEventRepository,
    private readonly jobs: JobRepository,
    private readonly config: AppConfig,
  ) {}

  /**
   * One job's events: those still kept after `lastEventId` (all of them on a first connection),
   * then live ones, until the job is final. A job that is final already, and whose final status
   * event is no longer kept, gets its final state as one unnumbered status event.
   */
  async streamJob(jobId: number, lastEventId: string | undefined, response: Response): Promise<void> {
    await this.open(response, { jobId }, true, async (stream) => {
      const job = await this.jobs.findById(jobId);
      const replay = await this.replay({ jobId }, lastEventId, stream);
      return async () => {
        if (!job || stream.ended || !FINAL_STATUSES.includes(job.status)) return;
        if (lastEventId !== undefined && replay.complete) return stream.end();
        stream.sendUnnumbered('status', {
          job_id: job.id,
          status: job.status,
          progress: job.progress,
          attempts: job.attempts,
          error: job.error,
          outputs: job.outputImageIds,
          result: job.result,
          at: job.finishedAt?.toISOString() ?? job.updatedAt.toISOString(),
        });
      };
    });
  }

  /** All events of `principal`'s jobs (an admin's: everyone's): those kept after `lastEventId`, then live ones. */
  async streamAll(principal: Principal, lastEventId: string | undefined, response: Response): Promise<void> {
    const filter = { userId: principal.ownerFilter() };
    await this.open(response, filter, false, async (stream) => {
      if (lastEventId !== undefined) await this.replay(filter, lastEventId, stream);
      return async () => undefined;
    });
  }

  /**
   * Starts the response and subscribes before replaying, holding live events back until the
   * replay is written, so that nothing committed in between is missed (duplicates are dropped).
   */
  private open(
    response: Response,
    filter: EventFilter,
    endsWithJob: boolean,
    replay: (stream: EventStream) => Promise<() => Promise<void>>,
  ): Promise<void> {
    let held: JobEventMessage[] | null = [];
    let untrack = (): void => undefined;
    const unsubscribe = this.hub.subscribe(filter, (event) => (held ? held.push(event) : stream.send(event)));
    const stream: EventStream = new EventStream(response, endsWithJob, () => {
      unsubscribe();
      untrack();
    });
    if (!stream.ended) untrack = this.hub.track(stream);
    return replay(stream)
      .then(async (finish) => {
        const waiting = held ?? [];
        held = null;
        for (const event of waiting) stream.send(event);
        await finish();
      })
      .catch((error) => {
        this.logger.warn(`Job events stream ended: ${(error as Error).message}`);
        stream.end();
      });
  }

  /**
   * Writes the kept events after `lastEventId` (or all of a job's when absent), oldest first, a
   * batch at a time. When `lastEventId` names no event still kept (older than EVENTS_REPLAY, or
   * unknown), a `replay_gap` event says that what follows is all that remains.
   */
  private async replay(filter: EventFilter, lastEventId: string | undefined, stream: EventStream): Promise<{ complete: boolean }> {
    const window = this.config.EVENTS_REPLAY;
    let cursor = '0';
    let complete = true;
    if (lastEventId !== undefined) {
      complete =
        /^[0-9]{1,18}$/.test(lastEventId) && (await this.events.isKept(lastEventId, window, 'jobId' in filter ? filter.jobId : null));
      if (complete) cursor = lastEventId;
      else {
        stream.sendUnnumbered('replay_gap', {
          last_event_id: lastEventId,
          message: `Event ${JSON.stringify(lastEventId)} is no longer kept (events are kept ${window} s, EVENTS_REPLAY): what follows is every event still kept; read the job itself for anything older`,
        });
      }
    }
    for (;;) {
      const rows = await this.events.after(filter, cursor, window, REPLAY_BATCH);
      for (const row of rows) stream.send(toMessage(row));
      if (rows.length < REPLAY_BATCH) return { complete };
      cursor = String(rows[rows.length - 1].id);
    }
  }
}
