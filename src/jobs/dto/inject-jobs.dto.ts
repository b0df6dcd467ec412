import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsBoolean, IsObject, IsOptional, IsString, Matches } from 'class-validator';
import { IsId } from '../../common/is-int-in-range.decorator';
import { STEP_PATTERN } from '../../pipelines/job-sequence';
import { IsStorableText } from '../../common/is-storable-text.decorator';

const STEP_MESSAGE = 'each step must be an operation name: a lower-case letter, then a-z, 0-9 or "_"';
const DAYS_MESSAGE = 'days must be a whole number of days or "today"';

/**
 * What `POST /api/jobs/inject.json` and `npm run inject` take: the job to make sure of, and
 * which images (the index routes' selection keys image_type, user_id and days; every match, no `n`).
 */
export class InjectJobsDto {
  @ApiProperty({
    description: 'The process job every matching image should have, as for POST /api/jobs.json.',
    type: [String],
    example: ['process', 'grayscale', 'histogram'],
  })
  // Required: parseInjection says so in one message, rather than one per constraint here.
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @IsString({ each: true })
  @Matches(STEP_PATTERN, { each: true, message: STEP_MESSAGE })
  job_sequence?: string[];

  @ApiPropertyOptional({
    description: "Each step's parameters, by operation name; a job counts as the same only with the same params.",
    example: { resize: { width: 800 } },
  })
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Only images of this image type (by name), e.g. original.', example: 'original' })
  @IsOptional()
  @IsString()
  @IsStorableText()
  image_type?: string;

  @ApiPropertyOptional({ description: "Only this user's images." })
  @IsOptional()
  @IsId()
  user_id?: number;

  @ApiPropertyOptional({
    description: 'Only images created in the last N days, or `today` for those created since 00:00 UTC.',
    oneOf: [
      { type: 'integer', minimum: 1 },
      { type: 'string', enum: ['today'] },
    ],
  })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'number' ? String(value) : value))
  @IsString({ message: DAYS_MESSAGE })
  days?: string;

  @ApiPropertyOptional({ description: 'Create the job for every matching image, done or pending ones too.', default: false })
  @IsOptional()
  @IsBoolean()
  force?: boolean;

  @ApiPropertyOptional({ description: 'Only count: create nothing.', default: false })
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;
}
