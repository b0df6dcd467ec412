import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { PgListener } from '../database/pg-listener';
import { SessionRepository } from './session.repository';

/** The channel the sessions and users triggers notify (migration AuthCache). */
export const AUTH_CHANNEL = 'darkroom_auth';

/** Entries kept at most: past it the oldest go first, so a flood of tokens cannot grow the process. */
export const MAX_CACHED_SESSIONS = 100_000;

/** What a bearer token authenticates, as the cache keeps it. */
export interface CachedSession {
  sessionId: number;
  userId: number;
  admin: boolean;
}

interface Entry {
  session: CachedSession;
  expiresAt: number;
}

/** A notice of the AuthCache triggers: sessions that ended, users whose sessions changed, or everything. */
export type AuthNotice = { sessions: number[] } | { users: number[] } | 'all';

/** `s:1,2,3` (sessions deleted), `u:7` (a user deleted or their admin flag changed), `*` (too many to list). */
export function parseAuthNotice(payload: string | undefined): AuthNotice {
  const match = /^([su]):(\d+(?:,\d+)*)$/.exec(payload ?? '');
  if (!match) return 'all';
  const ids = match[2].split(',').map(Number);
  return match[1] === 's' ? { sessions: ids } : { users: ids };
}

/**
 * Bearer-token lookups of this API process, kept AUTH_CACHE_SECONDS so that a request needs no
 * database query to be authenticated. Anything that ends a session or changes what it grants
 * clears the entries concerned at once in every process: the triggers of migration AuthCache
 * NOTIFY on commit, and each process LISTENs (one connection). A process that lost that
 * connection may have missed notices, so it clears everything once it listens again. The
 * process that made the change also clears its entries itself, before it answers, so its own
 * next request never sees the old state.
 *
 * A lookup that was under way while an entry was cleared may have read the row as it was before:
 * it is not kept (`generation` moved on meanwhile), only answered.
 */
@Injectable()
export class SessionCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SessionCache.name);
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private listener: PgListener | null = null;
  private generation = 0;

  constructor(
    private readonly sessions: SessionRepository,
    config: AppConfig,
  ) {
    this.ttlMs = config.AUTH_CACHE_SECONDS * 1000;
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    this.listener = this.sessions.listener({
      channel: AUTH_CHANNEL,
      description: 'session invalidation',
      onNotify: (payload) => this.apply(parseAuthNotice(payload)),
      onListening: (reconnected) => {
        if (reconnected) {
          this.logger.warn('Listening for session changes again: the session cache starts afresh');
          this.apply('all');
        }
      },
    });
    await this.listener.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener?.close();
  }

  /** The generation a lookup starts in: pass it to `put`. */
  begin(): number {
    return this.generation;
  }

  get(key: string): CachedSession | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.session;
  }

  /** Keeps a lookup's answer, unless something was cleared since it began. */
  put(key: string, session: CachedSession, generation: number): void {
    if (!this.enabled || generation !== this.generation) return;
    this.entries.delete(key);
    if (this.entries.size >= MAX_CACHED_SESSIONS) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { session, expiresAt: Date.now() + this.ttlMs });
  }

  apply(notice: AuthNotice): void {
    this.generation++;
    if (notice === 'all') {
      this.entries.clear();
      return;
    }
    const [ids, field] =
      'sessions' in notice ? [new Set(notice.sessions), 'sessionId' as const] : [new Set(notice.users), 'userId' as const];
    for (const [key, entry] of this.entries) if (ids.has(entry.session[field])) this.entries.delete(key);
  }

  forgetSession(sessionId: number): void {
    this.apply({ sessions: [sessionId] });
  }

  forgetUser(userId: number): void {
    this.apply({ users: [userId] });
  }

  get size(): number {
    return this.entries.size;
  }
}
