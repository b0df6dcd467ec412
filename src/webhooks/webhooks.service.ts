import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Principal } from '../identity/principal';
import { invalidField } from '../common/api-errors';
import { AppConfig } from '../config/app-config';
import { Job } from '../job-runs/job.entity';
import { resolveWebhookTarget, WebhookTargetRefused } from './webhook-address';
import { WebhookSecretCipher } from './webhook-secret-cipher';
import { generateWebhookSecret } from './webhook-signature';
import { DeliveryWithAttempts, PREVIOUS_SECRET_GRACE_MS, WebhookRepository } from './webhook.repository';

export interface IssuedSecret {
  userId: number;
  secret: string;
  /** Until when the secret this one replaced still verifies; null when it replaced none. */
  previousValidUntil: Date | null;
}

/** The API's side of webhooks: the secrets, the callback URLs jobs may carry, and the record of deliveries. */
@Injectable()
export class WebhooksService {
  private readonly cipher: WebhookSecretCipher;

  constructor(
    @InjectRepository(Job) private readonly jobs: Repository<Job>,
    private readonly webhooks: WebhookRepository,
    private readonly config: AppConfig,
  ) {
    this.cipher = new WebhookSecretCipher(config.WEBHOOK_SECRET_KEY);
  }

  /** A new secret for the user (themself, or anyone for an admin), shown only in this answer. */
  async rotateSecret(principal: Principal, userId: number): Promise<IssuedSecret> {
    if (!principal.owns(userId) || !(await this.webhooks.userExists(userId))) throw new NotFoundException(`No user with id ${userId}`);
    const secret = generateWebhookSecret();
    const { rotatedAt, replaced } = await this.webhooks.rotateSecret(userId, this.cipher.seal(secret));
    return { userId, secret, previousValidUntil: replaced ? new Date(rotatedAt.getTime() + PREVIOUS_SECRET_GRACE_MS) : null };
  }

  /**
   * The callback URL a job of `ownerId` may carry, normalised; a 422 naming `callback_url` when
   * it is not allowed (see resolveWebhookTarget), or when the owner has no secret to sign with.
   */
  async checkCallbackUrl(raw: string, ownerId: number): Promise<string> {
    const target = await resolveWebhookTarget(raw, {
      allowHttp: this.config.ALLOW_HTTP_WEBHOOKS,
      allowPrivate: this.config.ALLOW_PRIVATE_WEBHOOKS,
    }).catch((error: unknown) => {
      throw error instanceof WebhookTargetRefused ? invalidField('callback_url', error.message) : error;
    });
    if (!(await this.webhooks.hasSecret(ownerId))) {
      throw invalidField(
        'callback_url',
        `User ${ownerId} has no webhook secret to sign deliveries with: make one first (POST /api/users/${ownerId}/webhook_secret)`,
      );
    }
    return target.url.href;
  }

  /** The deliveries of a job the caller may see; someone else's job is as absent as a missing one. */
  async deliveriesOf(principal: Principal, jobId: number): Promise<DeliveryWithAttempts[]> {
    const job = await this.jobs.findOne({ where: { id: jobId }, select: { id: true, userId: true } });
    if (!job || !principal.owns(job.userId)) throw new NotFoundException(`No job with id ${jobId}`);
    return this.webhooks.deliveriesOf(jobId);
  }
}
