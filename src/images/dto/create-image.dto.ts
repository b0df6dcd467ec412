import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { IsId } from '../../common/is-int-in-range.decorator';
import { IsStorableText } from '../../common/is-storable-text.decorator';
import { IsPresetNames } from '../../presets/preset-names';

export class CreateImageDto {
  @ApiPropertyOptional({ description: 'Owner; defaults to you. Only admins may name another user.' })
  @IsOptional()
  @IsId()
  user_id?: number;

  @ApiPropertyOptional({ description: 'Image type, by name.', example: 'original' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  @IsStorableText()
  image_type?: string;

  @ApiPropertyOptional({ description: 'Image type, by id (alternative to image_type).' })
  @IsOptional()
  @IsId()
  image_type_id?: number;

  @ApiPropertyOptional({ description: 'The image this one was derived from; must be yours.' })
  @IsOptional()
  @IsId()
  original_id?: number;

  @IsPresetNames(
    'Presets to make as soon as the original is stored (GET /api/images/:id/derivatives/:preset then finds them made). A multipart form gives them comma-separated.',
  )
  presets?: string[];
}
