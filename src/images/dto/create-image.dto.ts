import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

const MAX_ID = 2_147_483_647;

export class CreateImageDto {
  @ApiPropertyOptional({ description: 'Owner; defaults to you. Only admins may name another user.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_ID)
  user_id?: number;

  @ApiPropertyOptional({ description: 'Image type, by name.', example: 'original' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  image_type?: string;

  @ApiPropertyOptional({ description: 'Image type, by id (alternative to image_type).' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_ID)
  image_type_id?: number;

  @ApiPropertyOptional({ description: 'The image this one was derived from; must be yours.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_ID)
  original_id?: number;
}
