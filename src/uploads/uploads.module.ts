import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ImagesModule } from '../images/images.module';
import { JobsModule } from '../jobs/jobs.module';
import { PresetsModule } from '../presets/presets.module';
import { ResumableUpload } from './upload.entity';
import { UploadExpiry } from './upload-expiry';
import { UploadRepository } from './upload.repository';
import { UploadsController } from './uploads.controller';
import { UploadsService } from './uploads.service';

@Module({
  imports: [TypeOrmModule.forFeature([ResumableUpload]), ImagesModule, JobsModule, PresetsModule],
  controllers: [UploadsController],
  providers: [UploadsService, UploadRepository, UploadExpiry],
})
export class UploadsModule {}
