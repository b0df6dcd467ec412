import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Job } from '../job-runs/job.entity';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';
import { WebhookRepositoryModule } from './webhook.repository';

/**
 * The API's side of webhooks: secrets, callback URL checks (for the jobs routes) and the record
 * of deliveries. The deliveries themselves are made by the worker (src/worker/webhook-*.ts).
 */
@Module({
  imports: [TypeOrmModule.forFeature([Job]), WebhookRepositoryModule],
  controllers: [WebhooksController],
  providers: [WebhooksService],
  exports: [WebhooksService],
})
export class WebhooksModule {}
