import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { jobJson } from '../job-runs/job-json';
import { WebhookMetrics } from '../metrics/webhook-metrics';
import { WebhookQueue } from '../queue/webhook-queue';
import { DELIVERY_STATUS, WebhookDelivery } from '../webhooks/webhook-delivery.entity';
import { nextAttemptAt } from '../webhooks/webhook-schedule';
import { SecretUnreadable, WebhookSecretCipher } from '../webhooks/webhook-secret-cipher';
import { signWebhook } from '../webhooks/webhook-signature';
import { PREVIOUS_SECRET_GRACE_MS, WebhookRepository } from '../webhooks/webhook.repository';
import { SendResult, WebhookSender } from './webhook-sender';

const USER_AGENT = 'Darkroom-Webhooks/1.0';

/**
 * Makes one attempt of a delivery: the job's JSON as it ended (the same shape as GET
 * /api/jobs/:id.json), signed per Standard Webhooks with the owner's secret (and the previous one
 * during its grace), POSTed to the callback URL. The outcome is recorded, and the next attempt
 * queued with backoff until WEBHOOK_RETRY_HOURS have passed since the job's end.
 */
@Injectable()
export class WebhookDeliverer {
  private readonly logger = new Logger('Webhooks');
  private readonly cipher: WebhookSecretCipher;

  constructor(
    private readonly deliveries: WebhookRepository,
    private readonly sender: WebhookSender,
    private readonly queue: WebhookQueue,
    private readonly config: AppConfig,
    private readonly metrics: WebhookMetrics,
  ) {
    this.cipher = new WebhookSecretCipher(config.WEBHOOK_SECRET_KEY);
  }

  /** Attempt `attempt + 1` of delivery `deliveryId`; nothing when that attempt was already made or the delivery is over. */
  async attempt(deliveryId: string, attempt: number): Promise<void> {
    const delivery = await this.deliveries.findDelivery(deliveryId);
    if (!delivery || delivery.status !== DELIVERY_STATUS.pending || delivery.attempts !== attempt) return;
    const attemptedAt = new Date();
    const result = await this.send(delivery, attemptedAt);
    const made = attempt + 1;
    const next =
      result.outcome === 'delivered'
        ? null
        : nextAttemptAt(made, delivery.createdAt, new Date(), this.config.WEBHOOK_RETRY_BASE_MS, this.config.WEBHOOK_RETRY_HOURS);
    const status = result.outcome === 'delivered' ? DELIVERY_STATUS.delivered : next ? DELIVERY_STATUS.pending : DELIVERY_STATUS.failed;
    const recorded = await this.deliveries.recordAttempt(delivery, {
      attempt: { attemptedAt, durationMs: result.durationMs, outcome: result.outcome, statusCode: result.statusCode, error: result.error },
      status,
      nextAttemptAt: next,
    });
    if (!recorded) return;
    this.metrics.attempted(result.outcome, status === DELIVERY_STATUS.pending ? null : status);
    if (next) {
      this.logger.debug(`Webhook ${delivery.id} (job ${delivery.jobId}), attempt ${made}: ${result.error}; again at ${next.toISOString()}`);
      // Should this add fail, the reconciler's pass adds it once the attempt is overdue.
      await this.queue.add(delivery.id, made, Math.max(0, next.getTime() - Date.now()));
    } else if (status === DELIVERY_STATUS.failed) {
      this.logger.warn(`Webhook ${delivery.id} (job ${delivery.jobId}) not delivered after ${made} attempt(s): ${result.error}`);
    }
  }

  private async send(delivery: WebhookDelivery, at: Date): Promise<SendResult> {
    let secrets: string[];
    try {
      secrets = await this.secretsOf(delivery.userId, at);
    } catch (error) {
      if (!(error instanceof SecretUnreadable || error instanceof NoSecret)) throw error;
      return { outcome: 'error', statusCode: null, error: error.message, durationMs: 0 };
    }
    const body = JSON.stringify(jobJson(this.deliveries.jobOf(delivery)));
    const timestamp = Math.floor(at.getTime() / 1000);
    return this.sender.send(delivery.url, body, {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': delivery.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(secrets, delivery.id, timestamp, body),
    });
  }

  /** The current secret, and the one it replaced while that is within its grace. */
  private async secretsOf(userId: number, at: Date): Promise<string[]> {
    const stored = await this.deliveries.secretOf(userId);
    if (!stored) throw new NoSecret(userId);
    const secrets = [this.cipher.open(stored.secret)];
    if (stored.previousSecret !== null && at.getTime() < stored.rotatedAt.getTime() + PREVIOUS_SECRET_GRACE_MS) {
      secrets.push(this.cipher.open(stored.previousSecret));
    }
    return secrets;
  }
}

class NoSecret extends Error {
  constructor(userId: number) {
    super(`User ${userId} has no webhook secret to sign with`);
  }
}
