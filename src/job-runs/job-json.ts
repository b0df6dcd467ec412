import type { Job } from './job.entity';

/**
 * A job's JSON: what GET /api/jobs/:id.json answers (JobResponseDto documents it) and what a webhook
 * delivers when the job ends. Here, outside the HTTP resource, so that the worker's webhook code
 * shares the shape without loading the API's DTOs.
 */
export function jobJson(job: Job) {
  return {
    id: job.id,
    status: job.status,
    lane: job.lane,
    environment: job.environment,
    // The column keeps the storage key of the file the job was made from; clients get a URL.
    image_url: job.imageId === null ? null : `/api/images/${job.imageId}/file`,
    job_type: job.jobType,
    user_id: job.userId,
    image_id: job.imageId,
    params: job.params,
    progress: job.progress,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    timeout: job.timeout,
    ttl: job.ttl,
    error: job.error,
    outputs: job.outputImageIds,
    force: job.force,
    reused_steps: job.reusedSteps,
    result: job.result,
    callback_url: job.callbackUrl,
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
  };
}

export type JobJson = ReturnType<typeof jobJson>;
