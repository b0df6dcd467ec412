import { Controller, Get, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { IdempotencyKeyIgnored } from '../idempotency/idempotency-key-ignored.decorator';
import { WebhookDeliveryResponseDto } from './dto/webhook-delivery-response.dto';
import { WebhookSecretResponseDto } from './dto/webhook-secret-response.dto';
import { WebhooksService } from './webhooks.service';

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('api')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post('users/:id/webhook_secret')
  @IdempotencyKeyIgnored('The answer is the new secret, which is kept only sealed: a retry makes another one.')
  @ApiOperation({
    summary: "Make or rotate a user's webhook signing secret (yourself, or anyone for an admin)",
    description:
      'Answers the new secret, once: it is never shown again. The secret it replaces keeps verifying for 24 h, ' +
      'and deliveries are signed with both until then.',
  })
  @ApiCreatedResponse({ type: WebhookSecretResponseDto })
  @ApiErrorResponses(401, 404)
  async rotateSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('user')) id: number,
  ): Promise<WebhookSecretResponseDto> {
    return WebhookSecretResponseDto.from(await this.webhooks.rotateSecret(principal, id));
  }

  @Get('jobs/:id/deliveries')
  @ApiOperation({ summary: "A job's webhook deliveries, oldest first, each with its attempts" })
  @ApiOkResponse({ type: [WebhookDeliveryResponseDto] })
  @ApiErrorResponses(401, 404)
  async deliveries(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseIdPipe('job')) id: number,
  ): Promise<WebhookDeliveryResponseDto[]> {
    return (await this.webhooks.deliveriesOf(principal, id)).map(WebhookDeliveryResponseDto.from);
  }
}
