import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { IsId } from '../../common/is-int-in-range.decorator';
import { JOB_NAME_PATTERN } from './create-job-type.dto';

export class UpdateJobTypeDto {
  @ApiPropertyOptional({ description: 'Ignored if it matches the id in the URL; refused otherwise.' })
  @IsOptional()
  @IsId()
  id?: number;

  @ApiPropertyOptional({ maxLength: 64, pattern: JOB_NAME_PATTERN.source })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  @Matches(JOB_NAME_PATTERN, { message: 'job_name must start with a letter and hold only a-z, 0-9 and "_"' })
  job_name?: string;

  @ApiPropertyOptional({ maxLength: 64 })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  language?: string;
}
