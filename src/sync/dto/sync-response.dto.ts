import { ApiProperty } from '@nestjs/swagger';
import { ImageResponseDto } from '../../images/dto/image-response.dto';
import { JobResponseDto } from '../../jobs/dto/job-response.dto';

export class SyncDeletedDto {
  @ApiProperty({ type: [Number], description: 'Images deleted (or moved to another user) since the cursor.' }) images: number[];
  @ApiProperty({ type: [Number], description: 'Jobs deleted (or moved to another user) since the cursor.' }) jobs: number[];
}

export class SyncResponseDto {
  @ApiProperty({
    type: [ImageResponseDto],
    description:
      'Your images created or changed since the cursor, as GET /api/images lists them (no histogram bins), in the order they changed.',
  })
  images: ImageResponseDto[];
  @ApiProperty({ type: [JobResponseDto], description: 'Your jobs created or changed since the cursor, as GET /api/jobs lists them.' })
  jobs: JobResponseDto[];
  @ApiProperty({ type: SyncDeletedDto, description: 'Tombstones: ids to forget. Empty on a full sync’s first page.' })
  deleted: SyncDeletedDto;
  @ApiProperty({ example: 'MTo4MjE6am9iOjQ3OjA', description: 'Opaque: send it back as `since` for the next page, or the next sync.' })
  cursor: string;
  @ApiProperty({ description: 'More changes wait: ask again at once with the new cursor.' })
  has_more: boolean;
}
