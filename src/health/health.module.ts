import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { QueueProbe } from './queue-probe';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { ShutdownDrain } from './shutdown-drain';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' })],
  controllers: [HealthController],
  providers: [HealthService, QueueProbe, ShutdownDrain],
})
export class HealthModule {}
