import { Injectable, NotFoundException } from '@nestjs/common';
import { invalidField } from '../common/api-errors';
import { Principal } from '../identity/principal';
import { STEP_PATTERN } from '../pipelines/job-sequence';
import { parsePresetSteps } from '../pipelines/preset-steps';
import { CreatePresetDto } from './dto/create-preset.dto';
import { UpdatePresetDto } from './dto/update-preset.dto';
import { Preset } from './preset.entity';
import { PresetsRepository } from './presets.repository';

@Injectable()
export class PresetsService {
  constructor(private readonly presets: PresetsRepository) {}

  findAll(): Promise<Preset[]> {
    return this.presets.list();
  }

  /** Refuses `names` as the value of `field` unless each names a preset. */
  async assertExist(names: string[], field: string): Promise<void> {
    if (names.length === 0) return;
    const known = new Set((await this.presets.list()).map((preset) => preset.name));
    const missing = names.filter((name) => !known.has(name));
    if (missing.length > 0) {
      throw invalidField(
        field,
        `${missing.map((name) => JSON.stringify(name)).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not a preset; known: ${[...known].join(', ')}`,
      );
    }
  }

  async findOne(name: string): Promise<Preset> {
    const preset = STEP_PATTERN.test(name) ? await this.presets.findByName(name) : null;
    if (!preset) throw new NotFoundException(`No preset named ${JSON.stringify(name)}`);
    return preset;
  }

  /** Steps are checked as a process job's (parsePresetSteps), so that every preset can run. */
  create(principal: Principal, dto: CreatePresetDto): Promise<Preset> {
    principal.requireAdmin('create presets');
    const steps = parsePresetSteps(dto);
    return this.presets.save({ name: dto.name, description: dto.description ?? null, jobType: steps.sequence, params: steps.params });
  }

  async update(principal: Principal, name: string, dto: UpdatePresetDto): Promise<Preset> {
    principal.requireAdmin('change presets');
    const preset = await this.findOne(name);
    if (dto.params !== undefined && dto.job_type === undefined) {
      throw invalidField('job_type', 'Give job_type with params: they replace the steps together');
    }
    if (dto.job_type !== undefined) {
      const steps = parsePresetSteps(dto);
      preset.jobType = steps.sequence;
      preset.params = steps.params;
    }
    if (dto.name !== undefined) preset.name = dto.name;
    if (dto.description !== undefined) preset.description = dto.description;
    return this.presets.save(preset);
  }

  async remove(principal: Principal, name: string): Promise<Preset> {
    principal.requireAdmin('delete presets');
    const preset = await this.findOne(name);
    await this.presets.delete(preset.id);
    return preset;
  }
}
