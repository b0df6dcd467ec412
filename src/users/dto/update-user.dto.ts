import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { MAX_PASSWORD_BYTES } from '../../auth/credentials';
import { IsBoolean, IsByteLength, IsEmail, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { IsId } from '../../common/is-int-in-range.decorator';
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
  @IsByteLength(8, MAX_PASSWORD_BYTES, { message: `password must be 8 to ${MAX_PASSWORD_BYTES} bytes long` })
  password?: string;

  @ApiPropertyOptional({ description: 'Admins only.' })
  @IsOptional()
  @IsBoolean()
  admin?: boolean;
}
