import { Injectable, NotAcceptableException, NotFoundException, OnModuleInit, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { bearerPrincipal, bearerToken } from '../auth/bearer';
import { tokenDigest } from '../identity/credentials';
import { Principal } from '../identity/principal';
import { AppConfig } from '../config/app-config';
import { JobRepository } from '../job-runs/job.repository';
import { SessionsService } from '../sessions/sessions.service';
import { EVENTS_TOKEN_TTL_SECONDS, EventsScope, makeEventsToken, verifyEventsToken } from './events-token';
import { JobEventRepository } from './job-event.repository';

/**
 * Who may open an event stream: the bearer token as on every route (the same parser and check as
 * AuthGuard), or else an events token, which this class also mints.
 */
@Injectable()
export class JobEventsAccess implements OnModuleInit {
  private readonly adminDigest: Buffer | null;
  private secret = '';

  constructor(
    private readonly events: JobEventRepository,
    private readonly jobs: JobRepository,
    private readonly sessions: SessionsService,
    config: AppConfig,
  ) {
    this.adminDigest = config.ADMIN_TOKEN ? tokenDigest(config.ADMIN_TOKEN) : null;
  }

  async onModuleInit(): Promise<void> {
    this.secret = await this.events.secret();
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
    if (header) return bearerPrincipal(bearerToken(header), this.adminDigest, this.sessions);
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
}
