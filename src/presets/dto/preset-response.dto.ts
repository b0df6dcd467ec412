import { ApiProperty } from '@nestjs/swagger';
import { Preset } from '../preset.entity';

export class PresetResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'thumb_256' }) name: string;
  @ApiProperty({ type: String, nullable: true, example: '256-pixel WebP thumbnail for lists' }) description: string | null;
  @ApiProperty({ type: [String], example: ['process', 'thumbnail', 'convert'] }) job_type: string[];
  @ApiProperty({ example: { convert: { format: 'webp', quality: 80 } } }) params: Record<string, object>;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  static from(preset: Preset): PresetResponseDto {
    return {
      id: preset.id,
      name: preset.name,
      description: preset.description,
      job_type: preset.jobType,
      params: preset.params,
      created_at: preset.createdAt.toISOString(),
      updated_at: preset.updatedAt.toISOString(),
    };
  }
}
