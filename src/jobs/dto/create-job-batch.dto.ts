import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { IsArray, ValidateBy } from 'class-validator';
import type { Request } from 'express';
import { ErrorDetailDto } from '../../common/api-error-responses.decorator';
import { jobsInBody } from '../../rate-limits/rate-limit.decorator';
import { CreateJobDto } from './create-job.dto';
import { JobResponseDto } from './job-response.dto';

/** The most job bodies one batch may hold. */
export const MAX_BATCH_JOBS = 1000;

/**
 * The bodies are checked one by one by the service, each as POST /api/jobs checks its body, so
 * that one bad body is answered in its place instead of refusing the batch.
 */
export class CreateJobBatchDto {
  @ApiProperty({
    description: `Up to ${MAX_BATCH_JOBS} job bodies, each as POST /api/jobs takes it.`,
    type: 'array',
    items: { $ref: getSchemaPath(CreateJobDto) },
    maxItems: MAX_BATCH_JOBS,
    example: [
      { image_id: 7, job_type: 'invert' },
      { image_id: 8, job_sequence: ['process', 'grayscale', 'histogram'] },
    ],
  })
  @IsArray({ message: 'jobs must be an array of job bodies' })
  @ValidateBy({
    name: 'batchSize',
    validator: {
      // Only an array's size: anything else is IsArray's to refuse, with one message.
      validate: (value: unknown) => !Array.isArray(value) || value.length <= MAX_BATCH_JOBS,
      defaultMessage: (args) =>
        `jobs holds at most ${MAX_BATCH_JOBS} job bodies, not ${(args?.value as unknown[]).length}: split the batch`,
    },
  })
  jobs: unknown[];
}

/** One body's outcome, in the body's place: its job (status 201), or its error as POST /api/jobs would answer it. */
export class JobBatchItemDto {
  @ApiProperty({ description: 'The status POST /api/jobs would have answered this body with: 201, or 4xx.', example: 201 })
  status: number;

  @ApiPropertyOptional({ type: JobResponseDto, description: 'The job created (status 201 only).' })
  job?: JobResponseDto;

  @ApiPropertyOptional({ description: 'Why this body was refused (4xx only).', example: 'No image with id 9' })
  error?: string;

  @ApiPropertyOptional({ type: [ErrorDetailDto], description: 'The fields at fault (4xx only).' })
  details?: ErrorDetailDto[];
}

/**
 * The rate-limit cost of a batch: one per job. A batch too large to be taken spends one, as any
 * refused body does, rather than a budget it could never use.
 */
export function jobsInBatch(request: Request): number {
  const jobs = jobsInBody(request);
  return jobs > MAX_BATCH_JOBS ? 1 : jobs;
}
