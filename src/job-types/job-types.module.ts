import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { JobType } from './job-type.entity';
import { JobTypesController } from './job-types.controller';
import { JobTypesService } from './job-types.service';

@Module({
  imports: [TypeOrmModule.forFeature([JobType])],
  controllers: [JobTypesController],
  providers: [JobTypesService],
  exports: [JobTypesService],
})
export class JobTypesModule {}
