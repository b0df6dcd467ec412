import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import type { Request } from 'express';
import { ErrorResponseDto } from '../common/api-error-responses.decorator';

/**
 * The three budgets of issue 11. `auth` is per client IP; `jobs` and `uploads` are per user, and
 * admins are exempt from them.
 */
export type RateLimitName = 'auth' | 'jobs' | 'uploads';

/** How much of its budget one request spends: 0 spends none (the request is not limited). */
export type RateLimitCost = (request: Request) => number;

export interface RateLimitSpec {
  name: RateLimitName;
  cost: RateLimitCost;
}

export const RATE_LIMIT = 'darkroom:rate-limit';

const SETTINGS: Record<RateLimitName, string> = { auth: 'AUTH_RATE_LIMIT', jobs: 'JOB_RATE_LIMIT', uploads: 'UPLOAD_RATE_LIMIT' };
const EXAMPLES: Record<RateLimitName, string> = {
  auth: 'Too many sign-in attempts from this address: try again in 42 s',
  jobs: 'Too many jobs: at most 600 a minute per user; try again in 42 s',
  uploads: 'Too many uploads: at most 120 a minute per user; try again in 42 s',
};

/**
 * Puts a route under one of the budgets. `cost` says how many units a request spends: a job
 * creation spends one per job it makes, so a batch of n spends n.
 */
export function RateLimit(name: RateLimitName, cost: RateLimitCost = () => 1): MethodDecorator {
  return applyDecorators(
    SetMetadata(RATE_LIMIT, { name, cost } satisfies RateLimitSpec),
    ApiExtraModels(ErrorResponseDto),
    ApiResponse({
      status: 429,
      description: `Past the ${SETTINGS[name]} rate limit; \`Retry-After\` says how many seconds to wait.`,
      headers: { 'Retry-After': { description: 'Seconds until the budget allows this request again', schema: { type: 'integer' } } },
      content: {
        'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) }, example: { error: EXAMPLES[name], details: [] } },
      },
    }),
  );
}

/**
 * The jobs a job-creation request makes: one, or as many as a batch's `jobs` array holds. A body
 * that validation will refuse still spends at least one.
 */
export function jobsInBody(request: Request): number {
  const jobs = (request.body as { jobs?: unknown } | undefined)?.jobs;
  return Array.isArray(jobs) ? Math.max(1, jobs.length) : 1;
}

/** `POST /api/images` uploads a file only as multipart/form-data; the JSON form makes a bare record. */
export function multipartUpload(request: Request): number {
  return request.is('multipart/form-data') ? 1 : 0;
}
