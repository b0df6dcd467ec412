import { ApiProperty } from '@nestjs/swagger';
import { ImageType } from '../image-type.entity';

export class ImageTypeResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'original' }) type_name: string;
  @ApiProperty({
    type: [String],
    example: ['thumb_256'],
    description: 'Presets made as soon as an image of this type has its original stored.',
  })
  presets: string[];
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  static from(imageType: ImageType): ImageTypeResponseDto {
    return {
      id: imageType.id,
      type_name: imageType.typeName,
      presets: imageType.presets,
      created_at: imageType.createdAt.toISOString(),
      updated_at: imageType.updatedAt.toISOString(),
    };
  }
}
