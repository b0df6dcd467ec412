import { IsStorableText } from '../../common/is-storable-text.decorator';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { MAX_PASSWORD_BYTES } from '../../identity/credentials';
import { IsByteLength, IsEmail, IsString, Length, Matches, MaxLength } from 'class-validator';

export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

export const lowercaseTrimmed = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);

export class CreateUserDto {
  @ApiProperty({ example: 'ada', minLength: 3, maxLength: 40, pattern: USERNAME_PATTERN.source })
  @IsString()
  @Length(3, 40)
  @Matches(USERNAME_PATTERN, { message: 'username may contain only letters, digits, "_", "." and "-"' })
  username: string;

  @ApiProperty({ example: 'ada@example.com', maxLength: 254 })
  @Transform(lowercaseTrimmed)
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email: string;

  @ApiProperty({ example: 'correct horse battery staple', minLength: 8, maxLength: MAX_PASSWORD_BYTES, writeOnly: true })
  @IsString()
  // bcrypt reads a password up to its first NUL: "a\u0000bcdefgh" would be the password "a".
  @IsStorableText()
  @IsByteLength(8, MAX_PASSWORD_BYTES, { message: `password must be 8 to ${MAX_PASSWORD_BYTES} bytes long` })
  password: string;
}
