import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayNotEmpty, IsArray, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';
import { IsStorableText } from '../../common/is-storable-text.decorator';
import { STEP_PATTERN } from '../../pipelines/job-sequence';

export const PRESET_NAME_MESSAGE = 'name must be a lower-case letter, then up to 63 of a-z, 0-9 or "_"';
const STEP_MESSAGE = 'each step must be an operation name: a lower-case letter, then a-z, 0-9 or "_"';

export class CreatePresetDto {
  @ApiProperty({ example: 'thumb_256', pattern: STEP_PATTERN.source, maxLength: 64 })
  @IsString({ message: PRESET_NAME_MESSAGE })
  @Matches(STEP_PATTERN, { message: PRESET_NAME_MESSAGE })
  name: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 500, example: '256-pixel WebP thumbnail for lists' })
  @ValidateIf((_dto, value) => value !== null && value !== undefined)
  @IsString()
  @MaxLength(500)
  @IsStorableText()
  description?: string | null;

  @ApiProperty({
    description: "The preset's operations, as a process job's job_type (the leading \"process\" may be left out); checked as a job's are.",
    type: [String],
    example: ['thumbnail', 'convert'],
  })
  @IsArray({ message: 'job_type must be a list of operation names' })
  @ArrayNotEmpty()
  @IsString({ each: true })
  @Matches(STEP_PATTERN, { each: true, message: STEP_MESSAGE })
  job_type: string[];

  @ApiPropertyOptional({
    description:
      'Each step\'s parameters, by operation name, as a job\'s. `convert` may take `format: "auto"`: AVIF, WebP or JPEG, ' +
      'chosen for each request from its Accept header.',
    example: { convert: { format: 'webp', quality: 80 } },
  })
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}
