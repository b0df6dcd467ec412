import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { CreateImageDto } from './create-image.dto';

/** A storage key: path segments of safe characters, no `..`, no leading or doubled `/`. */
export const S3_KEY_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/;

export class UpdateImageDto extends CreateImageDto {
  @ApiPropertyOptional({ description: 'Ignored if it matches the id in the URL; refused otherwise.' })
  @IsOptional()
  @IsInt()
  id?: number;

  @ApiPropertyOptional({
    description: "Where the uploaded original is stored; setting it marks the image 'original stored'.",
    example: 'originals/12345.jpg',
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(S3_KEY_PATTERN, { message: 's3_key must be a relative key of letters, digits, ".", "_", "-" and "/"' })
  s3_key?: string;
}
