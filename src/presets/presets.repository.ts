import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Preset } from './preset.entity';

/** The presets table. */
@Injectable()
export class PresetsRepository {
  constructor(@InjectRepository(Preset) private readonly presets: Repository<Preset>) {}

  list(): Promise<Preset[]> {
    return this.presets.find({ order: { name: 'ASC' } });
  }

  findByName(name: string): Promise<Preset | null> {
    return this.presets.findOneBy({ name });
  }

  save(preset: Partial<Preset>): Promise<Preset> {
    return this.presets.save(this.presets.create(preset));
  }

  async delete(id: number): Promise<void> {
    await this.presets.delete({ id });
  }
}
