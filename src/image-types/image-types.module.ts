import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PresetsModule } from '../presets/presets.module';
import { ImageType } from './image-type.entity';
import { ImageTypesController } from './image-types.controller';
import { ImageTypesService } from './image-types.service';

@Module({
  imports: [TypeOrmModule.forFeature([ImageType]), PresetsModule],
  controllers: [ImageTypesController],
  providers: [ImageTypesService],
  exports: [ImageTypesService],
})
export class ImageTypesModule {}
