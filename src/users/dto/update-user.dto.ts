import { IsStorableText } from '../../common/is-storable-text.decorator';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { MAX_PASSWORD_BYTES } from '../../identity/credentials';
import { IsBoolean, IsByteLength, IsEmail, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { IsId, IsIntInRange, MAX_ID } from '../../common/is-int-in-range.decorator';
import { lowercaseTrimmed, USERNAME_PATTERN } from './create-user.dto';

export class UpdateUserDto {
  @ApiPropertyOptional({ description: 'Ignored if it matches the id in the URL; refused otherwise.' })
  @IsOptional()
  @IsId()
  id?: number;

  @ApiPropertyOptional({ minLength: 3, maxLength: 40, pattern: USERNAME_PATTERN.source })
  @IsOptional()
  @IsString()
  @Length(3, 40)
  @Matches(USERNAME_PATTERN, { message: 'username may contain only letters, digits, "_", "." and "-"' })
  username?: string;

  @ApiPropertyOptional({ maxLength: 254 })
  @IsOptional()
  @Transform(lowercaseTrimmed)
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ minLength: 8, maxLength: MAX_PASSWORD_BYTES, writeOnly: true })
  @IsOptional()
  @IsString()
  // bcrypt reads a password up to its first NUL: "a\u0000bcdefgh" would be the password "a".
  @IsStorableText()
  @IsByteLength(8, MAX_PASSWORD_BYTES, { message: `password must be 8 to ${MAX_PASSWORD_BYTES} bytes long` })
  password?: string;

  @ApiPropertyOptional({ description: 'Admins only.' })
  @IsOptional()
  @IsBoolean()
  admin?: boolean;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: "Admins only. How many of this user's jobs may be queued or running at once; null: the default (QUOTA_JOBS_IN_PROGRESS).",
  })
  @IsOptional()
  @IsIntInRange(0, MAX_ID)
  max_jobs_in_progress?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description:
      'Admins only. How many bytes of files (originals and outputs) this user may store; null: the default (QUOTA_STORAGE_BYTES).',
  })
  @IsOptional()
  @IsIntInRange(0, Number.MAX_SAFE_INTEGER)
  max_storage_bytes?: number | null;
}
