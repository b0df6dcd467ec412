import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FileReferencesModule } from '../storage/file-references';
import { ImageTypesModule } from '../image-types/image-types.module';
import { JobLifecycleModule } from '../job-runs/job-lifecycle.module';
import { Image } from './image.entity';
import { ImagesController } from './images.controller';
import { ImageRepository } from './image.repository';
import { ImageUploadService } from './image-upload.service';
import { ImageFilesService } from './image-files.service';
import { ImagesService } from './images.service';
import { ImageHooks } from './image.hooks';
import { PresetsModule } from '../presets/presets.module';

@Module({
  imports: [TypeOrmModule.forFeature([Image]), ImageTypesModule, JobLifecycleModule, FileReferencesModule, PresetsModule],
  controllers: [ImagesController],
  providers: [ImagesService, ImageFilesService, ImageRepository, ImageUploadService, ImageHooks],
  exports: [ImagesService, ImageFilesService, ImageHooks, ImageRepository],
})
export class ImagesModule {}
