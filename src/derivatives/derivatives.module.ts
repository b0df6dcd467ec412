import { Module } from '@nestjs/common';
import { JobEventsModule } from '../events/job-events.module';
import { ImagesModule } from '../images/images.module';
import { JobsModule } from '../jobs/jobs.module';
import { PresetsModule } from '../presets/presets.module';
import { DerivativesController } from './derivatives.controller';
import { DerivativesRepository } from './derivatives.repository';
import { DerivativesService } from './derivatives.service';

/** GET /api/images/:id/derivatives/:preset: presets applied to images by URL. */
@Module({
  imports: [PresetsModule, ImagesModule, JobsModule, JobEventsModule],
  controllers: [DerivativesController],
  providers: [DerivativesService, DerivativesRepository],
  exports: [DerivativesService],
})
export class DerivativesModule {}
