import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsBoolean, IsIn, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';
import { IsId, IsIntInRange } from '../../common/is-int-in-range.decorator';
import { STEP_PATTERN } from '../../pipelines/job-sequence';
import { IsStorableText } from '../../common/is-storable-text.decorator';
import { JOB_LANE, JOB_LANES, type JobLane } from '../../pipelines/job-states';

const STEP_MESSAGE = 'each step must be an operation name: a lower-case letter, then a-z, 0-9 or "_"';
const asList = ({ value }: { value: unknown }) => (typeof value === 'string' ? [value] : value);

export class CreateJobDto {
  @ApiPropertyOptional({ description: 'The image to process; must be yours.' })
  @IsOptional()
  @IsId()
  image_id?: number;

  @ApiPropertyOptional({ description: 'Owner; defaults to you. Only admins may name another user.' })
  @IsOptional()
  @IsId()
  user_id?: number;

  @ApiPropertyOptional({
    description: 'One operation or a list of them; a list not starting with process/query/search is a process job.',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['grayscale', 'histogram'],
  })
  @IsOptional()
  @Transform(asList)
  @IsArray({ message: 'job_type must be an operation name or a list of them' })
  @ArrayNotEmpty()
  @IsString({ each: true })
  @Matches(STEP_PATTERN, { each: true, message: STEP_MESSAGE })
  job_type?: string[];

  @ApiPropertyOptional({
    description: "The seed's form: the pipeline kind, then its operations.",
    type: [String],
    example: ['process', 'grayscale', 'histogram'],
  })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @IsString({ each: true })
  @Matches(STEP_PATTERN, { each: true, message: STEP_MESSAGE })
  job_sequence?: string[];

  @ApiPropertyOptional({
    description: "The seed's environment string, stored as given.",
    example: "QUERY='n=all&days=today&image_type=histogram'",
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  @IsStorableText()
  environment?: string;

  @ApiPropertyOptional({
    description:
      'Each step\'s parameters, by operation name. Or `branches`: [{"steps": [...], "params": {...}}, ...], at least 2 chains ' +
      'that each start from the image (params by operation name within each), `job_type` then naming their steps one after the other.',
    example: { resize: { width: 800 }, blur: { sigma: 3 } },
  })
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Seconds one attempt may run (default JOB_TIMEOUT).', minimum: 1, maximum: 86400 })
  @IsOptional()
  @IsIntInRange(1, 86_400)
  timeout?: number;

  @ApiPropertyOptional({ description: 'Seconds the job may wait in the queue before it expires unrun.', minimum: 1 })
  @IsOptional()
  @IsIntInRange(1, 30 * 86_400)
  ttl?: number;

  @ApiPropertyOptional({
    enum: JOB_LANES,
    default: JOB_LANE.interactive,
    description:
      'Which lane of its queue the job waits in: workers take interactive work first, users in turns, and keep BULK_SHARE ' +
      'of their slots for bulk work whenever some waits. A batch of BULK_BATCH_FROM jobs or more, and the injector, are bulk.',
  })
  @IsOptional()
  @IsIn(JOB_LANES, { message: `lane must be one of ${JOB_LANES.join(', ')}` })
  lane?: JobLane;

  @ApiPropertyOptional({ description: 'Attempts before the job fails (default MAX_RETRY).', minimum: 1, maximum: 20 })
  @IsOptional()
  @IsIntInRange(1, 20)
  attempts?: number;

  @ApiPropertyOptional({
    description:
      'Compute every step even where the same work (same input file, operation, version and params) was done before; ' +
      'by default such a step points at the earlier output’s file instead (listed in reused_steps).',
    default: false,
  })
  @IsOptional()
  @IsBoolean({ message: 'force must be true or false' })
  force?: boolean;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 2048,
    example: 'https://hooks.example.com/darkroom',
    description:
      "Where to POST the job's JSON, signed (Standard Webhooks), when it ends: completed, failed or cancelled. " +
      'An https URL whose host resolves to public addresses only; you need a webhook secret first (POST /api/users/{id}/webhook_secret). ' +
      'null (on an update) removes it.',
  })
  @ValidateIf((_dto, value) => value !== null && value !== undefined)
  @IsString({ message: 'callback_url must be a URL string' })
  callback_url?: string | null;
}
