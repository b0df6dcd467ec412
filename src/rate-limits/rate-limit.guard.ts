import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, ThrottlerRequest } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { CountingThrottlerStorage } from './rate-limit.storage';
import { RATE_LIMIT, RateLimitName, RateLimitSpec } from './rate-limit.decorator';

/** The budget a route is under, if any (`@RateLimit`). */
export function rateLimitOf(context: ExecutionContext): RateLimitSpec | undefined {
  return Reflect.getMetadata(RATE_LIMIT, context.getHandler()) as RateLimitSpec | undefined;
}

const REFUSALS: Record<RateLimitName, (limit: number, seconds: number) => string> = {
  auth: (_, seconds) => `Too many sign-in attempts from this address: try again in ${seconds} s`,
  jobs: (limit, seconds) => `Too many jobs: at most ${limit} a minute per user; try again in ${seconds} s`,
  uploads: (limit, seconds) => `Too many uploads: at most ${limit} a minute per user; try again in ${seconds} s`,
};

/**
 * @nestjs/throttler's guard, for the routes marked @RateLimit only: a request spends its route's
 * cost (a batch of n jobs spends n), and a refusal is a 429 with `Retry-After` in seconds and the
 * API's `{error, details}` body (ThrottlerException is an HttpException, which the filter shapes).
 * Registered after AuthGuard, so per-user budgets see `request.principal`.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http' || !rateLimitOf(context);
  }

  protected override async handleRequest(requestProps: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = requestProps;
    const name = throttler.name as RateLimitName;
    const request = context.switchToHttp().getRequest<Request>();
    const response = context.switchToHttp().getResponse<Response>();
    const cost = rateLimitOf(context)!.cost(request);
    if (cost <= 0) return true;
    const tracker = await getTracker(request, context);
    const key = generateKey(context, tracker, name);
    const storage = this.storageService as CountingThrottlerStorage;
    const record = await storage.increment(key, ttl, limit, blockDuration, name, cost);
    if (record.isBlocked) {
      const seconds = Math.max(1, record.timeToBlockExpire);
      response.setHeader('Retry-After', String(seconds));
      throw new ThrottlerException(REFUSALS[name](limit, seconds));
    }
    response.setHeader('X-RateLimit-Limit', String(limit));
    response.setHeader('X-RateLimit-Remaining', String(Math.max(0, limit - record.totalHits)));
    response.setHeader('X-RateLimit-Reset', String(record.timeToExpire));
    return true;
  }
}
