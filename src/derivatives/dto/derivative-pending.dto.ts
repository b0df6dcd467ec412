import { ApiProperty } from '@nestjs/swagger';
import { JOB_STATES } from '../../pipelines/job-states';
import type { Job } from '../../job-runs/job.entity';

/** The 202 answer of a derivative still being made: the job to follow, and when to ask again. */
export class DerivativePendingDto {
  @ApiProperty({ example: 7 }) job_id: number;
  @ApiProperty({ enum: JOB_STATES, example: 'running' }) status: string;
  @ApiProperty({ example: '/api/jobs/7.json', description: 'The job making the derivative (also in Location).' }) job_url: string;
  @ApiProperty({ example: 1, description: 'Seconds before asking again (also in Retry-After).' }) retry_after: number;

  static from(job: Job, retryAfter: number): DerivativePendingDto {
    return { job_id: job.id, status: job.status, job_url: jobUrl(job.id), retry_after: retryAfter };
  }
}

export const jobUrl = (jobId: number) => `/api/jobs/${jobId}.json`;
