import { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations';
import { ImageType } from '../image-types/image-type.entity';
import { Histogram } from '../histograms/histogram.entity';
import { Image } from '../images/image.entity';
import { JobType } from '../job-types/job-type.entity';
import { Job } from '../jobs/job.entity';
import { JobEvent } from '../events/job-event.entity';
import { Session } from '../sessions/session.entity';
import { User } from '../users/user.entity';
import { WebhookAttempt } from '../webhooks/webhook-attempt.entity';
import { WebhookDelivery } from '../webhooks/webhook-delivery.entity';
import { WebhookSecret } from '../webhooks/webhook-secret.entity';
import { Installation } from './installation.entity';
import { SnakeNamingStrategy } from './snake-naming.strategy';

export const entities = [
  User,
  ImageType,
  Image,
  JobType,
  Job,
  Histogram,
  Installation,
  Session,
  JobEvent,
  WebhookSecret,
  WebhookDelivery,
  WebhookAttempt,
];

export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    // Generated uuids use PostgreSQL's own gen_random_uuid(); migrations, not TypeORM, manage extensions.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    extra: { max: 20 },
  };
}
