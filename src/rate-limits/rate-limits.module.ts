import { DynamicModule, ExecutionContext, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { normalizeIp, ThrottlerModule, ThrottlerModuleOptions, ThrottlerOptions } from '@nestjs/throttler';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { Request } from 'express';
import { DataSource } from 'typeorm';
import type { AuthenticatedRequest } from '../identity/current-principal.decorator';
import { AppConfig } from '../config/app-config';
import { installationId, queuePrefix, redisConnection } from '../queue/queue.module';
import { rateLimitOf, RateLimitGuard } from './rate-limit.guard';
import { PostgresRateLimitStorage, RedisRateLimitStorage } from './rate-limit.storage';
import { RateLimitName } from './rate-limit.decorator';

const MINUTE_MS = 60_000;

/**
 * Rate limits (issue 11): sign-in and sign-up per client IP, job creation and uploads per user.
 * On Redis when REDIS_URL is set, so every API process shares one count, under a prefix naming
 * QUEUE_PREFIX and the installation (one Redis may serve many databases); in PostgreSQL otherwise,
 * so that without Redis too every API process shares one count.
 * Import it after AuthModule: global guards run in the order they are registered.
 */
@Module({})
export class RateLimitsModule {
  static forRoot(): DynamicModule {
    return {
      module: RateLimitsModule,
      imports: [
        ThrottlerModule.forRootAsync({
          inject: [AppConfig, getDataSourceToken()],
          useFactory: async (config: AppConfig, dataSource: DataSource) =>
            rateLimitOptions(config, queuePrefix(config.QUEUE_PREFIX, await installationId(dataSource)), dataSource),
        }),
      ],
      providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
    };
  }
}

export function rateLimitOptions(config: AppConfig, prefix: string, dataSource: DataSource): ThrottlerModuleOptions {
  const budget = (name: RateLimitName, limit: number, perUser: boolean): ThrottlerOptions => ({
    name,
    limit,
    ttl: MINUTE_MS,
    blockDuration: MINUTE_MS,
    // 0 turns a limit off; admins (ADMIN_TOKEN's holder included) are exempt from per-user ones.
    skipIf: (context: ExecutionContext) => limit === 0 || rateLimitOf(context)?.name !== name || (perUser && principalOf(context).isAdmin),
    getTracker: perUser
      ? (_request, context) => `user:${principalOf(context).userId}`
      : (request) => `ip:${normalizeIp((request as Request).ip ?? '')}`,
  });
  return {
    throttlers: [
      budget('auth', config.AUTH_RATE_LIMIT, false),
      budget('jobs', config.JOB_RATE_LIMIT, true),
      budget('uploads', config.UPLOAD_RATE_LIMIT, true),
    ],
    // Sign-in and sign-up share one budget: the key names the budget, not the route. In Redis:
    // darkroom:<installation>:rate-limit:{auth:ip:203.0.113.7}:hits (and :blocked).
    generateKey: (_context, tracker, name) => `${prefix}:rate-limit:{${name}:${tracker}}`,
    storage: config.REDIS_URL ? redisStorage(config.REDIS_URL) : new PostgresRateLimitStorage(dataSource),
  };
}

/** The Redis store, its client's errors logged (once each while they repeat) rather than unhandled. */
function redisStorage(url: string): RedisRateLimitStorage {
  const storage = new RedisRateLimitStorage(redisConnection(url));
  const logger = new Logger('RateLimits');
  let last = '';
  storage.redis.on('error', (error: Error) => {
    if (error.message !== last) logger.warn(`Redis: ${error.message}`);
    last = error.message;
  });
  storage.redis.on('ready', () => {
    last = '';
  });
  return storage;
}

function principalOf(context: ExecutionContext) {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('A per-user rate limit ran before AuthGuard: register RateLimitsModule after AuthModule');
  return principal;
}
