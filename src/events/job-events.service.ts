import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  NotAcceptableException,
  NotFoundException,
  OnModuleInit,
  UnauthorizedException,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Request, Response } from 'express';
import { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { secretsEqual } from '../identity/credentials';
import { Principal } from '../identity/principal';
import { AppConfig } from '../config/app-config';
import { PgListener } from '../database/pg-listener';
import { JobRepository } from '../job-runs/job.repository';
import { SessionsService } from '../sessions/sessions.service';
import { EventStream, JobEventMessage } from './event-stream';
import { EVENTS_TOKEN_TTL_SECONDS, EventsScope, makeEventsToken, verifyEventsToken } from './events-token';
import { JOB_EVENTS_CHANNEL } from './job-event-notice';

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i;
const SWEEP_INTERVAL_MS = 60_000;
const REPLAY_BATCH = 500;
/**
 * After a lost listening connection, events are read back from this long before the last one
 * heard: a transaction that recorded its event earlier but committed later is still caught.
 */
const CATCH_UP_MARGIN_SECONDS = 5;
const FINAL_STATUSES = ['completed', 'failed', 'cancelled'];

/** Which events a subscriber gets: one job's, or one user's (null: everyone's, for an admin). */
type EventFilter = { jobId: number } | { userId: number | null };

interface Subscriber {
  filter: EventFilter;
  deliver(event: JobEventMessage): void;
}

interface EventRow {
  id: string;
  job_id: number;
  user_id: number;
  type: string;
  data: Record<string, unknown>;
}

const toMessage = (row: EventRow): JobEventMessage => ({
  id: String(row.id),
  jobId: row.job_id,
  userId: row.user_id,
  type: row.type,
  data: row.data,
});

/**
 * Live job events. Each API process holds ONE listening connection to PostgreSQL and fans the
 * trigger's notices out to its streams; replay (`Last-Event-ID`) and catching up after a lost
 * connection read the `job_events` table, which is the truth. Rows older than EVENTS_REPLAY are
 * deleted every minute.
 */
@Injectable()
export class JobEventsService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobEventsService.name);
  private readonly subscribers = new Set<Subscriber>();
  private readonly streams = new Set<EventStream>();
  private readonly adminToken: string | null;
  private secret = '';
  private readonly listener: PgListener;
  /** The database time of the last event heard, from which a reconnection catches up. */
  private lastHeardAt: string | null = null;
  /** Notices are dispatched in the order they came, even those whose data must first be read. */
  private dispatching: Promise<void> = Promise.resolve();
  private queued = 0;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobRepository,
    private readonly sessions: SessionsService,
    private readonly config: AppConfig,
  ) {
    this.adminToken = config.ADMIN_TOKEN ?? null;
    this.listener = new PgListener({
      url: (dataSource.options as PostgresDataSourceOptions).url!,
      channel: JOB_EVENTS_CHANNEL,
      description: 'job events',
      onNotify: (payload) => this.onNotice(payload),
      onListening: () => this.listening(),
    });
  }

  async onModuleInit(): Promise<void> {
    const [{ secret }] = await this.dataSource.query('SELECT secret FROM job_events_secret');
    this.secret = secret;
    await this.listener.start();
    this.sweeper = setInterval(() => {
      this.sweep().catch((error) => this.logger.warn(`Could not delete old job events: ${(error as Error).message}`));
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Before the HTTP server closes: open streams would otherwise keep it waiting. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const stream of [...this.streams]) stream.end();
    await this.listener.close();
  }

  /**
   * Who opens a stream: the bearer token as on every route, or else an events token made for
   * this very stream. A client that sends no acceptable Accept gets 406 before anything else.
   */
  async authenticate(request: Request, scope: EventsScope, accessToken: string | undefined): Promise<Principal> {
    if (!request.accepts('text/event-stream')) {
      throw new NotAcceptableException('This route answers only text/event-stream: send "Accept: text/event-stream"');
    }
    const header = request.headers.authorization;
    if (header) {
      const token = BEARER.exec(header)?.[1];
      if (!token) throw new UnauthorizedException('Malformed Authorization header: expected "Bearer <authentication_token>"');
      if (this.adminToken !== null && secretsEqual(token, this.adminToken)) return Principal.adminToken();
      const session = await this.sessions.authenticate(token);
      if (!session) throw new UnauthorizedException('Invalid bearer token');
      return Principal.forUser({ id: session.userId, admin: session.admin }, session.sessionId);
    }
    if (accessToken) {
      const holder = verifyEventsToken(this.secret, accessToken, scope, Math.floor(Date.now() / 1000));
      if (!holder) {
        throw new UnauthorizedException(
          'Invalid or expired access_token: make a new one with POST /api/jobs/:id/events_token (or /api/jobs/events_token), valid 60 s',
        );
      }
      return holder.userId === null ? Principal.adminToken() : Principal.forUser({ id: holder.userId, admin: holder.admin });
    }
    throw new UnauthorizedException(
      'Missing credentials: send the header "Authorization: Bearer <authentication_token>", or ?access_token= from POST /api/jobs/:id/events_token',
    );
  }

  /** A token that opens `scope`'s stream for EVENTS_TOKEN_TTL_SECONDS. */
  async makeToken(principal: Principal, scope: EventsScope): Promise<{ access_token: string; expires_in: number }> {
    if (scope !== 'all') await this.ownedJob(principal, scope.jobId);
    const expiresAt = Math.floor(Date.now() / 1000) + EVENTS_TOKEN_TTL_SECONDS;
    return {
      access_token: makeEventsToken(this.secret, { scope, userId: principal.userId, admin: principal.isAdmin, expiresAt }),
      expires_in: EVENTS_TOKEN_TTL_SECONDS,
    };
  }

  /** 404 for an unknown job, or one that is not the caller's, before any stream starts. */
  async ownedJob(principal: Principal, jobId: number): Promise<void> {
    const job = await this.jobs.findById(jobId);
    if (!job || !principal.owns(job.userId)) throw new NotFoundException(`No job with id ${jobId}`);
  }

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
    const subscriber: Subscriber = {
      filter,
      deliver: (event) => (held ? held.push(event) : stream.send(event)),
    };
    const stream = new EventStream(response, endsWithJob, () => {
      this.subscribers.delete(subscriber);
      this.streams.delete(stream);
    });
    this.streams.add(stream);
    this.subscribers.add(subscriber);
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
      complete = /^[0-9]{1,18}$/.test(lastEventId) && (await this.isKept(filter, lastEventId));
      if (complete) cursor = lastEventId;
      else {
        stream.sendUnnumbered('replay_gap', {
          last_event_id: lastEventId,
          message: `Event ${JSON.stringify(lastEventId)} is no longer kept (events are kept ${window} s, EVENTS_REPLAY): what follows is every event still kept; read the job itself for anything older`,
        });
      }
    }
    const [where, value] =
      'jobId' in filter
        ? ['job_id = $3', filter.jobId]
        : filter.userId === null
          ? ['$3::int IS NULL', null]
          : ['user_id = $3', filter.userId];
    for (;;) {
      const rows: EventRow[] = await this.dataSource.query(
        `SELECT id, job_id, user_id, type, data FROM job_events
          WHERE id > $1 AND created_at >= now() - make_interval(secs => $2) AND ${where}
          ORDER BY id LIMIT ${REPLAY_BATCH}`,
        [cursor, window, value],
      );
      for (const row of rows) stream.send(toMessage(row));
      if (rows.length < REPLAY_BATCH) return { complete };
      cursor = String(rows[rows.length - 1].id);
    }
  }

  private async isKept(filter: EventFilter, id: string): Promise<boolean> {
    const rows = await this.dataSource.query(
      `SELECT 1 FROM job_events WHERE id = $1 AND created_at >= now() - make_interval(secs => $2) AND ($3::int IS NULL OR job_id = $3)`,
      [id, this.config.EVENTS_REPLAY, 'jobId' in filter ? filter.jobId : null],
    );
    return rows.length > 0;
  }

  private dispatch(event: JobEventMessage): void {
    for (const subscriber of this.subscribers) {
      const { filter } = subscriber;
      const wanted = 'jobId' in filter ? filter.jobId === event.jobId : filter.userId === null || filter.userId === event.userId;
      if (wanted) subscriber.deliver(event);
    }
  }

  private onNotice(payload: string | undefined): void {
    if (!payload) return;
    const notice = JSON.parse(payload) as EventRow;
    if (typeof notice.data?.at === 'string') this.lastHeardAt = notice.data.at;
    if (notice.data && this.queued === 0) {
      this.dispatch(toMessage(notice));
      return;
    }
    this.enqueue(async () => {
      const rows: EventRow[] = notice.data
        ? [notice]
        : await this.dataSource.query('SELECT id, job_id, user_id, type, data FROM job_events WHERE id = $1', [notice.id]);
      for (const row of rows) this.dispatch(toMessage(row));
    });
  }

  /** Runs `work` after every dispatch queued before it. */
  private enqueue(work: () => Promise<void>): void {
    this.queued++;
    this.dispatching = this.dispatching
      .then(work)
      .catch((error) => this.logger.warn(`Could not read job events: ${(error as Error).message}`))
      .finally(() => this.queued--);
  }

  /**
   * Once listening: the first time, notes the database's time, from which a lost connection will
   * catch up; after a reconnection, catches up from the last event heard.
   */
  private async listening(): Promise<void> {
    const since = this.lastHeardAt;
    if (since === null) {
      this.lastHeardAt = (
        await this.dataSource.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`)
      )[0].now;
      return;
    }
    this.catchUp(since);
  }

  /** After a reconnection: the events committed while no one listened, in order (streams drop those they sent). */
  private catchUp(since: string): void {
    this.enqueue(async () => {
      const rows: EventRow[] = await this.dataSource.query(
        `SELECT id, job_id, user_id, type, data FROM job_events
          WHERE created_at >= $1::timestamptz - make_interval(secs => $2) ORDER BY id`,
        [since, CATCH_UP_MARGIN_SECONDS],
      );
      for (const row of rows) this.dispatch(toMessage(row));
    });
  }

  private async sweep(): Promise<void> {
    await this.dataSource.query('DELETE FROM job_events WHERE created_at < now() - make_interval(secs => $1)', [this.config.EVENTS_REPLAY]);
  }
}
