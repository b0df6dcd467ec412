import { ApiProperty, ApiPropertyOptional, IntersectionType, PickType } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsIntInRange } from '../../common/is-int-in-range.decorator';
import { CreatePresetDto } from '../../presets/dto/create-preset.dto';

/** A year: CDNs keep an answer to a signed URL for that long (max-age=31536000). */
export const MAX_EXPIRES_IN = 31_536_000;

export class CreateSignedUrlDto {
  @ApiPropertyOptional({
    minimum: 60,
    maximum: MAX_EXPIRES_IN,
    example: 86400,
    description: 'Seconds the URL works for; absent, it works until the signing key is rotated out.',
  })
  @IsOptional()
  @IsIntInRange(60, MAX_EXPIRES_IN)
  expires_in?: number;
}

export class SignedUrlResponseDto {
  @ApiProperty({ example: 'https://darkroom.example/r/3q2-7wEjb0mSI8nQXf1xT3eV9c6rYbJkP0aLhZu4WcA/thumb_256/42?expires=1796000000' })
  url: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the URL stops working; null: never.' })
  expires_at: string | null;
}

/** Free-form steps for a public URL, written as a preset's, when STRICT_PRESETS is off. */
export class CreateStepsSignedUrlDto extends IntersectionType(
  PickType(CreatePresetDto, ['job_type', 'params'] as const),
  CreateSignedUrlDto,
) {}
