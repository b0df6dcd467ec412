import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IMAGE_FORMATS } from '../../pipelines/image-formats';

const MIME_TYPES = Object.values(IMAGE_FORMATS).map((format) => format.mime);

export class UploadUrlRequestDto {
  @ApiPropertyOptional({ enum: MIME_TYPES, default: 'image/jpeg', description: 'The Content-Type the PUT will send.' })
  @IsOptional()
  @IsIn(MIME_TYPES)
  content_type?: string;
}

export class UploadUrlResponseDto {
  @ApiProperty({ description: 'PUT the file here, with the same Content-Type.' }) url: string;
  @ApiProperty({ description: 'Then send this as s3_key to PUT /api/images/:id.' }) s3_key: string;
  @ApiProperty({ description: 'Seconds the URL stays valid.' }) expires_in: number;
}
