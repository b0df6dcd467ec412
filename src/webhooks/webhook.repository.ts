import { Injectable, Module } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Job } from '../job-runs/job.entity';
import { User } from '../users/user.entity';
import { WebhookAttempt } from './webhook-attempt.entity';
import { DELIVERY_STATUS, WebhookDelivery } from './webhook-delivery.entity';
import { WebhookSecret } from './webhook-secret.entity';

/** How long the secret a rotation replaced keeps verifying, and signing. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3600 * 1000;

export interface DeliveryWithAttempts {
  delivery: WebhookDelivery;
  attempts: WebhookAttempt[];
}

/** What became of an attempt, and what comes next: another attempt at `nextAttemptAt`, or the end. */
export interface AttemptRecord {
  attempt: Omit<WebhookAttempt, 'id' | 'delivery' | 'deliveryId' | 'attempt'>;
  status: string;
  nextAttemptAt: Date | null;
}

/** Every read and write of webhook secrets, deliveries and attempts. */
@Injectable()
export class WebhookRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  userExists(userId: number): Promise<boolean> {
    return this.dataSource.getRepository(User).existsBy({ id: userId });
  }

  hasSecret(userId: number): Promise<boolean> {
    return this.dataSource.getRepository(WebhookSecret).existsBy({ userId });
  }

  secretOf(userId: number): Promise<WebhookSecret | null> {
    return this.dataSource.getRepository(WebhookSecret).findOneBy({ userId });
  }

  /**
   * Stores `sealed` as the user's secret; the one it replaces (if any) becomes the previous one,
   * and any older one is dropped. One statement, so concurrent rotations each keep a consistent pair.
   */
  async rotateSecret(userId: number, sealed: string): Promise<{ rotatedAt: Date; replaced: boolean }> {
    const [row] = await this.dataSource.query(
      `INSERT INTO webhook_secrets (user_id, secret) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET previous_secret = webhook_secrets.secret, secret = EXCLUDED.secret, rotated_at = now()
       RETURNING previous_secret IS NOT NULL AS replaced, rotated_at`,
      [userId, sealed],
    );
    return { rotatedAt: row.rotated_at, replaced: row.replaced };
  }

  /** A job's deliveries, oldest first, each with its attempts in order. */
  async deliveriesOf(jobId: number): Promise<DeliveryWithAttempts[]> {
    const deliveries = await this.dataSource
      .getRepository(WebhookDelivery)
      .find({ where: { jobId }, order: { createdAt: 'ASC', id: 'ASC' } });
    if (deliveries.length === 0) return [];
    const attempts = await this.dataSource
      .getRepository(WebhookAttempt)
      .createQueryBuilder('attempt')
      .where('attempt.deliveryId IN (:...ids)', { ids: deliveries.map((delivery) => delivery.id) })
      .orderBy('attempt.attempt')
      .getMany();
    return deliveries.map((delivery) => ({ delivery, attempts: attempts.filter((attempt) => attempt.deliveryId === delivery.id) }));
  }

  findDelivery(id: string): Promise<WebhookDelivery | null> {
    return this.dataSource.getRepository(WebhookDelivery).findOneBy({ id });
  }

  /**
   * Records attempt number `attempts + 1` of a pending delivery and moves it on, if no other
   * worker recorded that attempt first (a duplicate queue entry, or a stalled one run again).
   * False when one did: this attempt's outcome is then dropped.
   */
  async recordAttempt(delivery: WebhookDelivery, record: AttemptRecord): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const finished = record.status !== DELIVERY_STATUS.pending;
      const { affected } = await manager
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({
          attempts: () => 'attempts + 1',
          status: record.status,
          ...(record.nextAttemptAt ? { nextAttemptAt: record.nextAttemptAt } : {}),
          ...(finished ? { finishedAt: () => 'now()' } : {}),
        })
        .where('id = :id AND attempts = :attempts AND status = :pending', {
          id: delivery.id,
          attempts: delivery.attempts,
          pending: DELIVERY_STATUS.pending,
        })
        .execute();
      if (!affected) return false;
      await manager.getRepository(WebhookAttempt).insert({ ...record.attempt, deliveryId: delivery.id, attempt: delivery.attempts + 1 });
      return true;
    });
  }

  /** Pending deliveries whose next attempt is `settledSeconds` overdue, by id, a keyset batch at a time. */
  overdueBatch(afterId: string, limit: number, settledSeconds: number): Promise<WebhookDelivery[]> {
    return this.dataSource
      .getRepository(WebhookDelivery)
      .createQueryBuilder('delivery')
      .where('delivery.status = :pending AND delivery.id > :afterId', { pending: DELIVERY_STATUS.pending, afterId })
      .andWhere('delivery.nextAttemptAt < now() - make_interval(secs => :settledSeconds)', { settledSeconds })
      .orderBy('delivery.id')
      .limit(limit)
      .getMany();
  }

  /** The job as it ended, from the row the trigger kept (`to_jsonb` of the jobs row), as TypeORM would load it. */
  jobOf(delivery: WebhookDelivery): Job {
    const metadata = this.dataSource.getMetadata(Job);
    const job = new Job();
    for (const column of metadata.columns) {
      if (!(column.databaseName in delivery.payload)) continue;
      const value = this.dataSource.driver.prepareHydratedValue(delivery.payload[column.databaseName], column);
      (job as unknown as Record<string, unknown>)[column.propertyName] = value;
    }
    return job;
  }
}

/** WebhookRepository's one provider, without HTTP: the API's WebhooksModule and the worker import it. */
@Module({ providers: [WebhookRepository], exports: [WebhookRepository] })
export class WebhookRepositoryModule {}
