import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ImageType } from './image-type.entity';
import { ImageTypesController } from './image-types.controller';
import { ImageTypesService } from './image-types.service';

@Module({
  imports: [TypeOrmModule.forFeature([ImageType])],
  controllers: [ImageTypesController],
  providers: [ImageTypesService],
  exports: [ImageTypesService],
})
export class ImageTypesModule {}
