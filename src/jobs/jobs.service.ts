import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Principal } from '../auth/principal';
import { invalidField } from '../common/api-errors';
import { applySelection } from '../common/selection/apply-selection';
import { Selection } from '../common/selection/selection';
import { ImagesService } from '../images/images.service';
import { CreateJobDto } from './dto/create-job.dto';
import { UpdateJobDto } from './dto/update-job.dto';
import { Job, JOB_STATUS } from './job.entity';
import { normalizeJobSequence, pipelineKind } from './job-sequence';

@Injectable()
export class JobsService {
  constructor(
    @InjectRepository(Job) private readonly jobs: Repository<Job>,
    private readonly images: ImagesService,
  ) {}

  findAll(principal: Principal, selection: Selection): Promise<Job[]> {
    return applySelection(this.jobs.createQueryBuilder('job'), principal.scope(selection)).getMany();
  }

  /** A job the caller may see; someone else's is as absent as a missing one. */
  async findOne(principal: Principal, id: number): Promise<Job> {
    const job = await this.jobs.findOneBy({ id });
    if (!job || !principal.owns(job.userId)) throw new NotFoundException(`No job with id ${id}`);
    return job;
  }

  async create(principal: Principal, dto: CreateJobDto): Promise<Job> {
    const userId = principal.ownerFor(dto.user_id);
    const sequence = sequenceOf(dto, true)!;
    const image = dto.image_id === undefined ? null : await this.images.requireOwned(dto.image_id, userId, 'image_id');
    if (pipelineKind(sequence) === 'process' && !image) {
      throw invalidField('image_id', 'image_id is required: a process job works on one of your images');
    }
    return this.jobs.save(
      this.jobs.create({
        status: JOB_STATUS.queued,
        environment: dto.environment ?? null,
        imageUrl: image?.s3Key ?? null,
        jobType: sequence,
        userId,
        imageId: image?.id ?? null,
      }),
    );
  }

  async update(principal: Principal, id: number, dto: UpdateJobDto): Promise<Job> {
    if (dto.id !== undefined && dto.id !== id) throw invalidField('id', `id ${dto.id} does not match the URL's id ${id}`);
    const job = await this.findOne(principal, id);
    if (job.status !== JOB_STATUS.queued) {
      throw new ConflictException(`Job ${id} is ${job.status}; only a queued job can be changed`);
    }
    const sequence = sequenceOf(dto, false);
    if (sequence) {
      if (pipelineKind(sequence) === 'process' && job.imageId === null) {
        throw invalidField('job_type', 'A process job needs an image; this job has none');
      }
      job.jobType = sequence;
    }
    if (dto.environment !== undefined) job.environment = dto.environment;
    return this.jobs.save(job);
  }

  async remove(principal: Principal, id: number): Promise<Job> {
    const job = await this.findOne(principal, id);
    await this.jobs.delete({ id });
    return job;
  }
}

/** The normalised sequence a body gives by `job_type` or `job_sequence` (exactly one of them). */
function sequenceOf(dto: Pick<CreateJobDto, 'job_type' | 'job_sequence'>, required: boolean): string[] | undefined {
  if (dto.job_type !== undefined && dto.job_sequence !== undefined) {
    throw invalidField('job_sequence', 'Give job_type or job_sequence, not both');
  }
  if (dto.job_sequence !== undefined) return normalizeJobSequence(dto.job_sequence, 'job_sequence');
  if (dto.job_type !== undefined) return normalizeJobSequence(dto.job_type, 'job_type');
  if (required) throw invalidField('job_type', 'job_type (or job_sequence) is required');
  return undefined;
}
