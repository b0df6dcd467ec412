import { Injectable, Logger, NotFoundException, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { dummyPasswordHash, generateToken, tokenDigest } from '../identity/credentials';
import { Principal } from '../identity/principal';
import { AppConfig } from '../config/app-config';
import { SessionCache } from './session-cache';
import { Session, USER_AGENT_LENGTH } from './session.entity';
import { SessionRepository } from './session.repository';

/** Where a session was started from, as the request that started it says. */
export interface SessionOrigin {
  userAgent?: string | null;
  ip?: string | null;
}

/** The user a bearer token authenticates, and the session it belongs to. */
export interface AuthenticatedSession {
  sessionId: number;
  userId: number;
  admin: boolean;
}

/** last_used_at moves forward at most this often per session: one write a minute, not one a request. */
export const TOUCH_INTERVAL_SECONDS = 60;

/** How often each API process deletes every expired session in one statement. */
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

@Injectable()
export class SessionsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SessionsService.name);
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly cache: SessionCache,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    // Ready before the first sign-in for an unknown user, which must not take longer than others.
    void dummyPasswordHash();
    this.sweeper = setInterval(() => {
      this.deleteExpired().catch((error: Error) => this.logger.warn(`Could not delete expired sessions: ${error.message}`));
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /**
   * Starts a session for `userId` and answers its bearer token: 32 random bytes, base64url. Only
   * the token's SHA-256 is stored; the token itself is in this answer and nowhere else.
   */
  async create(userId: number, origin: SessionOrigin = {}, manager: EntityManager = this.sessions.manager): Promise<string> {
    const token = generateToken();
    await this.sessions.insert(manager, {
      userId,
      tokenSha256: tokenDigest(token),
      userAgent: origin.userAgent ? origin.userAgent.slice(0, USER_AGENT_LENGTH) : null,
      ip: origin.ip ? origin.ip.slice(0, 64) : null,
    });
    return token;
  }

  /**
   * The session and user a bearer token belongs to, or null. One statement, by the unique index
   * on token_sha256, joining the user. Looking a secret up through a B-tree leaks, by its timing,
   * at most how many leading bytes of the *digest* matched some stored digest; since nobody can
   * choose a token whose SHA-256 starts with given bytes, that tells an attacker nothing about any
   * token, so the lookup needs no constant-time comparison of its own.
   *
   * A session unused for SESSION_TTL_DAYS is deleted here, on its first use since, and refused.
   * last_used_at is written at most once a minute per session. A token found is kept in the
   * SessionCache for AUTH_CACHE_SECONDS; its requests in that time neither query nor touch the
   * session, so last_used_at may lag its last use by that much more.
   */
  authenticate(token: string): Promise<AuthenticatedSession | null> {
    return this.authenticateDigest(tokenDigest(token));
  }

  /** `authenticate`, given the token's digest (`tokenDigest`) by a caller that already made it. */
  async authenticateDigest(digest: Buffer): Promise<AuthenticatedSession | null> {
    const key = digest.toString('base64');
    const cached = this.cache.get(key);
    if (cached) return cached;
    const generation = this.cache.begin();
    const row = await this.sessions.findByDigest(digest, this.config.SESSION_TTL_DAYS, TOUCH_INTERVAL_SECONDS);
    if (!row) return null;
    if (row.expired) {
      await this.sessions.delete(row.session_id);
      return null;
    }
    if (row.stale) await this.sessions.touch(row.session_id, TOUCH_INTERVAL_SECONDS);
    const session = { sessionId: row.session_id, userId: row.user_id, admin: row.admin };
    this.cache.put(key, session, generation);
    return session;
  }

  /** The caller's sessions, most recently used first (ADMIN_TOKEN is no session: none). */
  list(principal: Principal): Promise<Session[]> {
    if (principal.userId === null) return Promise.resolve([]);
    return this.sessions.listActive(principal.userId, this.config.SESSION_TTL_DAYS);
  }

  /** Ends one of the caller's own sessions; anyone else's is as absent as a missing one (404). */
  async end(principal: Principal, id: number): Promise<void> {
    const ended = principal.userId !== null && (await this.sessions.deleteOwned(id, principal.userId));
    if (!ended) throw new NotFoundException(`No session with id ${id}`);
    this.cache.forgetSession(id);
  }

  /** Ends every session of `userId` but `except` (the one asking, on a password change). */
  async endAllOf(userId: number, except: number | null = null, manager: EntityManager = this.sessions.manager): Promise<number> {
    const affected = await this.sessions.deleteAllOf(manager, userId, except);
    // Within a caller's transaction this is early (the caller clears again once it commits); the
    // other processes hear of it at commit from the trigger.
    this.cache.forgetUser(userId);
    return affected;
  }

  /**
   * Drops this process's cached lookups of `userId`'s tokens, once a change to what they grant
   * (admin, deletion, sessions ended) has committed. Other processes hear it from the triggers.
   */
  forgetCached(userId: number): void {
    this.cache.forgetUser(userId);
  }

  /** Deletes every session unused for SESSION_TTL_DAYS; answers how many. */
  deleteExpired(): Promise<number> {
    return this.sessions.deleteUnusedFor(this.config.SESSION_TTL_DAYS);
  }
}
