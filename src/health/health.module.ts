import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { QueueProbe } from './queue-probe';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' })],
  controllers: [HealthController],
  providers: [HealthService, QueueProbe],
})
export class HealthModule {}
