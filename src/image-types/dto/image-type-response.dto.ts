import { ApiProperty } from '@nestjs/swagger';
import { ImageType } from '../image-type.entity';

export class ImageTypeResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'original' }) type_name: string;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  static from(imageType: ImageType): ImageTypeResponseDto {
    return {
      id: imageType.id,
      type_name: imageType.typeName,
      created_at: imageType.createdAt.toISOString(),
      updated_at: imageType.updatedAt.toISOString(),
    };
  }
}
