import { ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsId } from '../../common/is-int-in-range.decorator';
import { CreateJobDto } from './create-job.dto';

/** A job can be changed only while it is still queued; its image and owner stay. */
export class UpdateJobDto extends OmitType(CreateJobDto, ['image_id', 'user_id', 'params', 'timeout', 'ttl', 'attempts', 'lane'] as const) {
  @ApiPropertyOptional({ description: 'Ignored if it matches the id in the URL; refused otherwise.' })
  @IsOptional()
  @IsId()
  id?: number;
}
