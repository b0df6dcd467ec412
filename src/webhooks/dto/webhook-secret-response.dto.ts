import { ApiProperty } from '@nestjs/swagger';
import type { IssuedSecret } from '../webhooks.service';

export class WebhookSecretResponseDto {
  @ApiProperty() user_id: number;
  @ApiProperty({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description: 'The signing secret (Standard Webhooks form). Shown only here: keep it now.',
  })
  secret: string;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description:
      'Until when the secret this one replaced still verifies (deliveries carry both signatures until then); null for a first secret.',
  })
  previous_secret_valid_until: string | null;

  static from(issued: IssuedSecret): WebhookSecretResponseDto {
    return {
      user_id: issued.userId,
      secret: issued.secret,
      previous_secret_valid_until: issued.previousValidUntil?.toISOString() ?? null,
    };
  }
}
