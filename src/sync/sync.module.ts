import { Module } from '@nestjs/common';
import { ImagesModule } from '../images/images.module';
import { SyncController } from './sync.controller';
import { SyncRepository } from './sync.repository';
import { SyncService } from './sync.service';
import { SyncTombstonesSweeper } from './sync-tombstones-sweeper';

@Module({
  imports: [ImagesModule],
  controllers: [SyncController],
  providers: [SyncService, SyncRepository, SyncTombstonesSweeper],
})
export class SyncModule {}
