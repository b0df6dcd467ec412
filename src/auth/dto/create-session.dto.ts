import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { OWN_ABSENCE_MESSAGE } from '../../pipelines/invalid-input.error';
import { IsBoolean, IsOptional, IsString, Length, ValidateIf } from 'class-validator';
import { lowercaseTrimmed } from '../../users/dto/create-user.dto';
import { IsStorableText } from '../../common/is-storable-text.decorator';

export class CreateSessionDto {
  @ApiPropertyOptional({ description: 'Give username or email.', example: 'ada' })
  @ValidateIf((dto: CreateSessionDto) => dto.username !== undefined || dto.email === undefined)
  @IsString({ message: 'username or email is required', ...OWN_ABSENCE_MESSAGE })
  @Length(1, 254)
  @IsStorableText()
  username?: string;

  @ApiPropertyOptional({ description: 'Give username or email.' })
  @ValidateIf((dto: CreateSessionDto) => dto.email !== undefined)
  @Transform(lowercaseTrimmed)
  @IsString()
  @Length(1, 254)
  @IsStorableText()
  email?: string;

  @ApiProperty({ writeOnly: true })
  @IsString()
  @Length(1, 256)
  password: string;

  @ApiPropertyOptional({
    description:
      'true: the session token is set as an HttpOnly cookie for the admin pages (/admin/queues) instead of being answered: ' +
      'how a browser signs in to the queue dashboard.',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  cookie?: boolean;
}
