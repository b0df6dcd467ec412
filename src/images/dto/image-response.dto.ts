import { ApiProperty } from '@nestjs/swagger';
import { Image } from '../image.entity';

export class ImageResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'created', description: "'created', 'original stored' or 'processed'" }) status: string;
  @ApiProperty({ type: String, nullable: true }) s3_key: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'original', description: 'Image type name.' })
  image_type: string | null;
  @ApiProperty({ type: Number, nullable: true }) image_type_id: number | null;
  @ApiProperty() user_id: number;
  @ApiProperty({ type: Number, nullable: true, description: 'The image this one was derived from.' })
  original_id: number | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  /** `image` must have its `imageType` relation loaded. */
  static from(image: Image): ImageResponseDto {
    return {
      id: image.id,
      status: image.status,
      s3_key: image.s3Key,
      image_type: image.imageType?.typeName ?? null,
      image_type_id: image.imageTypeId,
      user_id: image.userId,
      original_id: image.originalId,
      created_at: image.createdAt.toISOString(),
      updated_at: image.updatedAt.toISOString(),
    };
  }
}
