import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { IsPresetNames } from '../../presets/preset-names';
import { IsId } from '../../common/is-int-in-range.decorator';
import { TYPE_NAME_PATTERN } from './create-image-type.dto';

export class UpdateImageTypeDto {
  @ApiPropertyOptional({ description: 'Ignored if it matches the id in the URL; refused otherwise.' })
  @IsOptional()
  @IsId()
  id?: number;

  @ApiPropertyOptional({ maxLength: 64, pattern: TYPE_NAME_PATTERN.source })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  @Matches(TYPE_NAME_PATTERN, { message: 'type_name may contain only lower-case letters, digits, "_" and "-"' })
  type_name?: string;

  @IsPresetNames('Presets made as soon as an image of this type has its original stored.')
  presets?: string[];
}
