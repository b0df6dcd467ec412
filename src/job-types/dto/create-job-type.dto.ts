import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';

export const JOB_NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

export class CreateJobTypeDto {
  @ApiProperty({ example: 'grayscale', maxLength: 64, pattern: JOB_NAME_PATTERN.source })
  @IsString()
  @Length(1, 64)
  @Matches(JOB_NAME_PATTERN, { message: 'job_name must start with a letter and hold only a-z, 0-9 and "_"' })
  job_name: string;

  @ApiPropertyOptional({ example: 'typescript', maxLength: 64 })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  language?: string;
}
