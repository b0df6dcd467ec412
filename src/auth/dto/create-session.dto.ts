import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Length, ValidateIf } from 'class-validator';
import { lowercaseTrimmed } from '../../users/dto/create-user.dto';

export class CreateSessionDto {
  @ApiPropertyOptional({ description: 'Give username or email.', example: 'ada' })
  @ValidateIf((dto: CreateSessionDto) => dto.username !== undefined || dto.email === undefined)
  @IsString({ message: 'username or email is required' })
  @Length(1, 254)
  username?: string;

  @ApiPropertyOptional({ description: 'Give username or email.' })
  @ValidateIf((dto: CreateSessionDto) => dto.email !== undefined)
  @Transform(lowercaseTrimmed)
  @IsString()
  @Length(1, 254)
  email?: string;

  @ApiProperty({ writeOnly: true })
  @IsString()
  @Length(1, 256)
  password: string;
}
