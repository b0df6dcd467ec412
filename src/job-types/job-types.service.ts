import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Principal } from '../identity/principal';
import { assertBodyIdMatches } from '../common/api-errors';
import { findSelected } from '../common/selection/apply-selection';
import { Selection } from '../pipelines/selection';
import { CreateJobTypeDto } from './dto/create-job-type.dto';
import { UpdateJobTypeDto } from './dto/update-job-type.dto';
import { JobType } from './job-type.entity';

@Injectable()
export class JobTypesService {
  constructor(@InjectRepository(JobType) private readonly jobTypes: Repository<JobType>) {}

  findAll(selection: Selection): Promise<JobType[]> {
    return findSelected(this.jobTypes, selection);
  }

  async findOne(id: number): Promise<JobType> {
    const jobType = await this.jobTypes.findOneBy({ id });
    if (!jobType) throw new NotFoundException(`No job type with id ${id}`);
    return jobType;
  }

  create(principal: Principal, dto: CreateJobTypeDto): Promise<JobType> {
    principal.requireAdmin('create job types');
    return this.jobTypes.save(this.jobTypes.create({ jobName: dto.job_name, language: dto.language ?? null }));
  }

  async update(principal: Principal, id: number, dto: UpdateJobTypeDto): Promise<JobType> {
    principal.requireAdmin('change job types');
    assertBodyIdMatches(dto.id, id);
    const jobType = await this.findOne(id);
    if (dto.job_name !== undefined) jobType.jobName = dto.job_name;
    if (dto.language !== undefined) jobType.language = dto.language;
    return this.jobTypes.save(jobType);
  }

  async remove(principal: Principal, id: number): Promise<JobType> {
    principal.requireAdmin('delete job types');
    const jobType = await this.findOne(id);
    await this.jobTypes.delete({ id });
    return jobType;
  }
}
