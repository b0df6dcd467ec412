import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ImagesModule } from '../images/images.module';
import { Job } from './job.entity';
import { JobLifecycleModule } from './job-lifecycle.module';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';

@Module({
  imports: [TypeOrmModule.forFeature([Job]), ImagesModule, JobLifecycleModule],
  controllers: [JobsController],
  providers: [JobsService],
})
export class JobsModule {}
