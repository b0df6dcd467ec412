import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Preset } from './preset.entity';
import { PresetsController } from './presets.controller';
import { PresetsRepository } from './presets.repository';
import { PresetsService } from './presets.service';

@Module({
  imports: [TypeOrmModule.forFeature([Preset])],
  controllers: [PresetsController],
  providers: [PresetsService, PresetsRepository],
  exports: [PresetsService],
})
export class PresetsModule {}
