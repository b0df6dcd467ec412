import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { IsPresetNames } from '../../presets/preset-names';

export const TYPE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

export class CreateImageTypeDto {
  @ApiProperty({ example: 'original', maxLength: 64, pattern: TYPE_NAME_PATTERN.source })
  @IsString({ message: 'A name must be assigned to the image type.' })
  @Length(1, 64)
  @Matches(TYPE_NAME_PATTERN, { message: 'type_name may contain only lower-case letters, digits, "_" and "-"' })
  type_name: string;

  @IsPresetNames('Presets made as soon as an image of this type has its original stored.')
  presets?: string[];
}
