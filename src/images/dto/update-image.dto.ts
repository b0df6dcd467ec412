import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsId } from '../../common/is-int-in-range.decorator';
import { CreateImageDto } from './create-image.dto';

/** A storage key: path segments of safe characters, no `..`, no leading or doubled `/`. */
export const S3_KEY_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/;

export class UpdateImageDto extends CreateImageDto {
  @ApiPropertyOptional({ description: 'Ignored if it matches the id in the URL; refused otherwise.' })
  @IsOptional()
  @IsId()
  id?: number;

  @ApiPropertyOptional({
    description:
      "The key POST /api/images/:id/upload_url issued, once the file is uploaded there: it is checked, then recorded, and the image becomes 'original stored'.",
    example: 'uploads/12345/0b7c0c52-8a53-4f5e-9c53-2f8d9d1f7e0a',
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(S3_KEY_PATTERN, { message: 's3_key must be a relative key of letters, digits, ".", "_", "-" and "/"' })
  s3_key?: string;
}
