import { ApiProperty } from '@nestjs/swagger';
import type { AttemptOutcome, WebhookAttempt } from '../webhook-attempt.entity';
import type { DeliveryWithAttempts } from '../webhook.repository';

export class WebhookAttemptResponseDto {
  @ApiProperty({ description: '1 for the first attempt.' }) attempt: number;
  @ApiProperty({ type: String, format: 'date-time' }) attempted_at: string;
  @ApiProperty({ description: 'From the start of the request to the end of the answer (or the failure).' }) duration_ms: number;
  @ApiProperty({
    enum: ['delivered', 'http_error', 'timeout', 'network_error', 'refused', 'error'],
    description:
      'delivered (2xx), http_error (another status), timeout (10 s), network_error, refused (the URL is not allowed, or resolves to a private address now), error (could not sign)',
  })
  outcome: AttemptOutcome;
  @ApiProperty({ type: Number, nullable: true, description: "The receiver's HTTP status, when it answered." }) status_code: number | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;

  static from(attempt: WebhookAttempt): WebhookAttemptResponseDto {
    return {
      attempt: attempt.attempt,
      attempted_at: attempt.attemptedAt.toISOString(),
      duration_ms: attempt.durationMs,
      outcome: attempt.outcome,
      status_code: attempt.statusCode,
      error: attempt.error,
    };
  }
}

export class WebhookDeliveryResponseDto {
  @ApiProperty({ description: 'The webhook-id header of every attempt of this delivery.' }) id: string;
  @ApiProperty() job_id: number;
  @ApiProperty({ example: 'job.completed', description: 'job.completed, job.failed or job.cancelled' }) event: string;
  @ApiProperty() url: string;
  @ApiProperty({ example: 'delivered', description: 'pending (more attempts to come), delivered or failed (retries ran out)' })
  status: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the next attempt is due, while pending.' })
  next_attempt_at: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finished_at: string | null;
  @ApiProperty({ type: [WebhookAttemptResponseDto] }) attempts: WebhookAttemptResponseDto[];

  static from({ delivery, attempts }: DeliveryWithAttempts): WebhookDeliveryResponseDto {
    return {
      id: delivery.id,
      job_id: delivery.jobId,
      event: delivery.event,
      url: delivery.url,
      status: delivery.status,
      next_attempt_at: delivery.status === 'pending' ? delivery.nextAttemptAt.toISOString() : null,
      created_at: delivery.createdAt.toISOString(),
      finished_at: delivery.finishedAt?.toISOString() ?? null,
      attempts: attempts.map(WebhookAttemptResponseDto.from),
    };
  }
}
