import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { EntityManager, Repository } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { PgListener, PgListenerOptions } from '../database/pg-listener';
import { Session } from './session.entity';

/** A session found by its token's digest, with its user and whether it is past its time. */
export interface SessionLookupRow {
  session_id: number;
  user_id: number;
  admin: boolean;
  /** Unused for longer than the TTL: to be deleted and refused. */
  expired: boolean;
  /** Unused for longer than the touch interval: last_used_at is due to move. */
  stale: boolean;
}

/**
 * The lookup every authenticated request makes, as a named prepared statement: each pooled
 * connection parses and plans it once, not once a request.
 */
const LOOKUP = {
  name: 'darkroom-session-by-token',
  text: `SELECT s.id AS session_id, u.id AS user_id, u.admin,
                s.last_used_at < now() - make_interval(days => $2) AS expired,
                s.last_used_at < now() - make_interval(secs => $3) AS stale
           FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE s.token_sha256 = $1`,
};

/** The sessions table, and the channel its triggers notify. */
@Injectable()
export class SessionRepository {
  constructor(@InjectRepository(Session) private readonly sessions: Repository<Session>) {}

  get manager(): EntityManager {
    return this.sessions.manager;
  }

  async insert(manager: EntityManager, session: Pick<Session, 'userId' | 'tokenSha256' | 'userAgent' | 'ip'>): Promise<void> {
    await manager.insert(Session, session);
  }

  /** One statement, by the unique index on token_sha256, joining the user. */
  async findByDigest(digest: Buffer, ttlDays: number, touchSeconds: number): Promise<SessionLookupRow | undefined> {
    // Straight on the pool, past TypeORM's query runner: this runs on every request the cache misses.
    const { rows } = await this.pool().query<SessionLookupRow>({ ...LOOKUP, values: [digest, ttlDays, touchSeconds] });
    return rows[0];
  }

  /** Moves last_used_at to now, unless another request did within `touchSeconds`. */
  async touch(id: number, touchSeconds: number): Promise<void> {
    await this.sessions.query(
      `UPDATE sessions SET last_used_at = now() WHERE id = $1 AND last_used_at < now() - make_interval(secs => $2)`,
      [id, touchSeconds],
    );
  }

  async delete(id: number): Promise<void> {
    await this.sessions.delete({ id });
  }

  /** Deletes session `id` if it is `userId`'s; answers whether it did. */
  async deleteOwned(id: number, userId: number): Promise<boolean> {
    const result = await this.sessions.delete({ id, userId });
    return Boolean(result.affected);
  }

  /** `userId`'s sessions used within `ttlDays`, most recently used first. */
  listActive(userId: number, ttlDays: number): Promise<Session[]> {
    return this.sessions
      .createQueryBuilder('session')
      .where('session.userId = :userId', { userId })
      .andWhere(`session.lastUsedAt >= now() - make_interval(days => :days)`, { days: ttlDays })
      .orderBy('session.lastUsedAt', 'DESC')
      .addOrderBy('session.id', 'DESC')
      .getMany();
  }

  /** Deletes every session of `userId` but `except`; answers how many. */
  async deleteAllOf(manager: EntityManager, userId: number, except: number | null): Promise<number> {
    const [, affected] = await manager.query('DELETE FROM sessions WHERE user_id = $1 AND ($2::integer IS NULL OR id <> $2)', [
      userId,
      except,
    ]);
    return affected ?? 0;
  }

  /** Deletes every session unused for `ttlDays`; answers how many. */
  async deleteUnusedFor(ttlDays: number): Promise<number> {
    const [, affected] = await this.sessions.query('DELETE FROM sessions WHERE last_used_at < now() - make_interval(days => $1)', [
      ttlDays,
    ]);
    return affected ?? 0;
  }

  /** A listener, not yet started, on a channel of this database (the AuthCache triggers' notices). */
  listener(options: Omit<PgListenerOptions, 'url'>): PgListener {
    return new PgListener({ ...options, url: (this.sessions.manager.connection.options as PostgresDataSourceOptions).url! });
  }

  private pool(): Pool {
    return (this.sessions.manager.connection.driver as PostgresDriver).master as Pool;
  }
}
