import { ConflictException, ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import { Principal } from '../identity/principal';
import { invalidField, assertBodyIdMatches } from '../common/api-errors';
import { describeError } from '../common/api-exception.filter';
import { validateBody } from '../common/api-validation.pipe';
import { Selection } from '../pipelines/selection';
import { AppConfig } from '../config/app-config';
import { Image } from '../images/image.entity';
import { IMAGE_STATUS } from '../pipelines/image-states';
import { ImageFilesService, OpenedImageFile } from '../images/image-files.service';
import { ImagesService } from '../images/images.service';
import { JobQueue } from '../job-runs/job-queue';
import { JobDispatcher } from '../job-runs/job-dispatcher';
import { JOB_LANE, type JobLane } from '../pipelines/job-states';
import { MAX_BATCH_JOBS } from './dto/create-job-batch.dto';
import { CreateJobDto } from './dto/create-job.dto';
import { Coalescer } from '../common/coalescer';
import { UpdateJobDto } from './dto/update-job.dto';
import { Job, JOB_STATUS } from '../job-runs/job.entity';
import { JobRepository, NewJob } from '../job-runs/job.repository';
import { AggregateRequest } from '../pipelines/aggregate-request';
import { pipelineKind } from '../pipelines/job-sequence';
import { parseJobSpec, requestedSequence } from '../pipelines/job-spec';
import { quotaDefaults } from '../quotas/quotas';
import { WebhooksService } from '../webhooks/webhooks.service';
import { WorkReuse } from '../job-runs/work-reuse.service';

/** A batch item's own fault (answered in its place with a 4xx); anything else fails the request. */
function itemError(error: unknown): Error {
  if (error instanceof Error && describeError(error).status < 500) return error;
  throw error;
}

/** Keeps `image` in `images` by id, and hands it back. */
function remember(images: Map<number, Image>, image: Image): Image {
  images.set(image.id, image);
  return image;
}

/** A single creation waiting to be written with others (JobsService.create). */
interface Creation {
  principal: Principal;
  dto: CreateJobDto;
  /** The lane the creation's route imposes (a large batch is bulk); otherwise the body's, or interactive. */
  lane?: JobLane;
}

/**
 * Single creations written together: two runs at a time keep the pool busy while a batch's
 * transaction commits; a batch is capped at the batch route's own size.
 */
const CREATIONS_IN_FLIGHT = 2;

export interface JobDownload {
  stream: Readable;
  /** Unknown ahead for a zip, which is streamed as it is built. */
  bytes: number | null;
  mime: string;
  filename: string;
}

@Injectable()
export class JobsService {
  private readonly creations = new Coalescer<Creation, Job>((items) => this.createChecked(items), CREATIONS_IN_FLIGHT, MAX_BATCH_JOBS);

  constructor(
    private readonly jobRows: JobRepository,
    private readonly images: ImagesService,
    private readonly imageFiles: ImageFilesService,
    private readonly queue: JobQueue,
    private readonly dispatcher: JobDispatcher,
    private readonly config: AppConfig,
    private readonly webhooks: WebhooksService,
    private readonly reuse: WorkReuse,
  ) {}

  findAll(principal: Principal, selection: Selection): Promise<Job[]> {
    return this.jobRows.list(principal.scope(selection));
  }

  /** A job the caller may see; someone else's is as absent as a missing one. */
  async findOne(principal: Principal, id: number): Promise<Job> {
    const job = await this.jobRows.findById(id);
    if (!job || !principal.owns(job.userId)) throw new NotFoundException(`No job with id ${id}`);
    return job;
  }

  /**
   * Writes the job row, then queues it. Everything the worker will need is checked first, so a
   * job that is accepted can run: operations of the catalogue, valid parameters, a stored original.
   * Creations that arrive together are written together (see `creations`): each is answered
   * exactly as if it had been alone, with its job or its own error.
   */
  create(principal: Principal, dto: CreateJobDto): Promise<Job> {
    return this.creations.submit({ principal, dto });
  }

  /**
   * POST /api/jobs/batch: each body is checked exactly as `create` checks it, and answered in its
   * place with its job or its error. An error that is not the body's fault (the database gone)
   * fails the whole request, before anything is written.
   */
  async createMany(principal: Principal, bodies: unknown[]): Promise<(Job | Error)[]> {
    const dtos = await Promise.all(bodies.map((body) => validateBody(CreateJobDto, body).catch(itemError)));
    const lane = bodies.length >= this.config.BULK_BATCH_FROM ? JOB_LANE.bulk : undefined;
    return this.createChecked(dtos.map((dto) => (dto instanceof Error ? dto : { principal, dto, lane })));
  }

  /**
   * Jobs whose bodies are valid, each with its caller: they are planned (image ownership read in
   * one query for all), written in one transaction (one INSERT, each owner's quota reserved once),
   * then queued in one round trip per queue, except those whose every step was done before, which
   * complete at once (WorkReuse). An item already an Error is answered as it is.
   */
  private async createChecked(items: (Creation | Error)[]): Promise<(Job | Error)[]> {
    const imageIds = items.flatMap((item) => (item instanceof Error || item.dto.image_id === undefined ? [] : [item.dto.image_id]));
    const ownedImage = await this.images.ownedImages(imageIds);
    const sources = new Map<number, Image>();
    const outcomes: (Job | Error)[] = [];
    const planned: { index: number; job: NewJob }[] = [];
    for (const [index, item] of items.entries()) {
      const job =
        item instanceof Error ? item : await this.plan(item, async (...args) => remember(sources, ownedImage(...args))).catch(itemError);
      if (job instanceof Error) outcomes[index] = job;
      else planned.push({ index, job });
    }
    const inserted = await this.jobRows.insertMany(
      planned.map((entry) => entry.job),
      quotaDefaults(this.config),
    );
    planned.forEach((entry, position) => (outcomes[entry.index] = inserted[position]));
    const created = inserted.filter((outcome): outcome is Job => outcome instanceof Job);
    const completed = new Map((await this.reuse.completeDoneWork(created, sources)).map((job) => [job.id, job]));
    if (created.length > completed.size) this.dispatcher.dispatchSoon();
    return outcomes.map((outcome) => (outcome instanceof Job ? (completed.get(outcome.id) ?? outcome) : outcome));
  }

  /** The row a body makes, once every rule a job must meet is checked. */
  private async plan(
    { principal, dto, lane }: Creation,
    ownedImage: (principal: Principal, imageId: number, userId: number, field: string) => Promise<Image>,
  ): Promise<NewJob> {
    const userId = principal.ownerFor(dto.user_id);
    const spec = parseJobSpec(dto);
    if (spec.kind !== 'process') await this.checkAggregate(principal, userId, spec.aggregate, spec.params);
    const { sequence } = spec;
    const params = spec.params as Record<string, object>;
    const image = dto.image_id === undefined ? null : await ownedImage(principal, dto.image_id, userId, 'image_id');
    if (pipelineKind(sequence) === 'process') {
      if (!image) throw invalidField('image_id', 'image_id is required: a process job works on one of your images');
      if (!image.s3Key) {
        throw invalidField('image_id', `Image ${image.id} has no stored file yet: upload it first (PUT /api/images/${image.id}/file)`);
      }
      if (image.status === IMAGE_STATUS.corrupt) {
        throw invalidField(
          'image_id',
          `Image ${image.id} is corrupt: ${image.corruptReason}; upload its file again (PUT /api/images/${image.id}/file)`,
        );
      }
    }
    const callbackUrl = dto.callback_url == null ? null : await this.webhooks.checkCallbackUrl(dto.callback_url, userId);
    return {
      environment: dto.environment ?? null,
      imageUrl: image?.s3Key ?? null,
      jobType: sequence,
      params,
      userId,
      imageId: image?.id ?? null,
      timeout: dto.timeout ?? this.config.JOB_TIMEOUT,
      ttl: dto.ttl ?? null,
      maxAttempts: dto.attempts ?? this.config.MAX_RETRY,
      force: dto.force ?? false,
      callbackUrl,
      lane: lane ?? dto.lane ?? JOB_LANE.interactive,
    };
  }

  /**
   * A search leaves out its requesting user (USER, the owner by default; only admins may name
   * another) and starts from one of the owner's own histograms: other users' images stay private.
   * The selection's image_type must name an image type, as on the index routes, rather than
   * silently selecting nothing.
   */
  private async checkAggregate(
    principal: Principal,
    ownerId: number,
    request: AggregateRequest,
    params: Record<string, unknown>,
  ): Promise<void> {
    if (request.userId !== null && request.userId !== ownerId && !principal.isAdmin) {
      throw new ForbiddenException('USER must be your own id');
    }
    if (request.selection.imageType !== null) {
      // The selection came as params or as the environment's QUERY, never both (parseAggregateRequest).
      const field = Object.keys(params).length > 0 ? 'params.image_type' : 'environment.QUERY.image_type';
      await this.images.assertImageTypeExists(request.selection.imageType, field);
    }
    if (request.target && !(await this.images.histogramOf(ownerId, request.target))) {
      // An image the caller may not see is answered as absent (404), as everywhere.
      if ('imageId' in request.target) await this.images.findOne(principal, request.target.imageId);
      const [field, value] = 'imageId' in request.target ? ['TARGET', request.target.imageId] : ['TARGET_S3_HIST', request.target.s3Key];
      const whose = principal.userId === ownerId ? 'one of your histogram images' : `a histogram image of user ${ownerId}`;
      throw invalidField(field, `${field} ${value} is not ${whose}`);
    }
  }

  /**
   * The job as the change would leave it is checked whole, as at creation, so that an update can
   * never store a job that could not have been created.
   */
  async update(principal: Principal, id: number, dto: UpdateJobDto): Promise<Job> {
    assertBodyIdMatches(dto.id, id);
    const job = await this.findOne(principal, id);
    const given = requestedSequence(dto);
    if (given) {
      if (pipelineKind(given.sequence) !== 'process') {
        throw invalidField(given.field, "Only a process job's operations can be changed; create a new query or search job");
      }
      if (pipelineKind(given.sequence) !== pipelineKind(job.jobType)) {
        throw invalidField(given.field, `A queued ${pipelineKind(job.jobType)} job cannot become a ${pipelineKind(given.sequence)} job`);
      }
    }
    const spec = parseJobSpec({
      job_type: given ? dto.job_type : job.jobType,
      job_sequence: dto.job_sequence,
      params: job.params,
      environment: dto.environment ?? job.environment ?? undefined,
    });
    if (spec.kind !== 'process') await this.checkAggregate(principal, job.userId, spec.aggregate, spec.params);
    const changes: Partial<Job> = {};
    if (given && spec.kind === 'process') {
      changes.params = spec.params;
      changes.jobType = spec.sequence;
    }
    if (dto.environment !== undefined) changes.environment = dto.environment;
    if (dto.callback_url !== undefined) {
      changes.callbackUrl = dto.callback_url === null ? null : await this.webhooks.checkCallbackUrl(dto.callback_url, job.userId);
    }
    // Only while still queued: the condition sits in the UPDATE so a worker starting meanwhile wins.
    if (!(await this.jobRows.updateQueued(id, changes))) {
      const current = await this.findOne(principal, id);
      throw new ConflictException(`Job ${id} is ${current.status}; only a queued job can be changed`);
    }
    return this.findOne(principal, id);
  }

  /**
   * The job's outputs as files: the one file itself, or a zip of several, as the kiosk consumer zips
   * its results. Outputs deleted since are left out (deleting one also takes it out of the job's
   * outputs; this covers a delete racing this request); with none left, a 404 says why.
   */
  async openDownload(principal: Principal, id: number): Promise<JobDownload> {
    const job = await this.findOne(principal, id);
    const files: OpenedImageFile[] = [];
    try {
      for (const imageId of job.outputImageIds) {
        const file = await this.imageFiles.openFile(principal, imageId).catch((error: unknown) => {
          if (error instanceof NotFoundException) return null;
          throw error;
        });
        if (file) files.push(file);
      }
    } catch (error) {
      for (const file of files) file.stream.destroy();
      throw error;
    }
    if (files.length === 0) throw new NotFoundException(noOutputsReason(job));
    if (files.length === 1) return files[0];
    const zip = new ZipFile();
    for (const [index, file] of files.entries()) {
      zip.addReadStream(file.stream, `${index + 1}-${file.filename}`, { compress: false });
    }
    zip.end();
    // yazl reads the files one after the other: a client gone mid-download would leave the files
    // not reached yet open until garbage collection (DEP0137). They close with the zip.
    zip.outputStream.once('close', () => files.forEach((file) => file.stream.destroy()));
    return { stream: zip.outputStream as Readable, bytes: null, mime: 'application/zip', filename: `job-${id}.zip` };
  }

  /** A job being deleted is cancelled first, so that its worker stops and records nothing more. */
  async remove(principal: Principal, id: number): Promise<Job> {
    const job = await this.findOne(principal, id);
    const cancelled = await this.jobRows.cancel(id);
    if (cancelled) await this.queue.remove(cancelled);
    await this.jobRows.delete(id);
    if (cancelled) this.dispatcher.dispatchSoon();
    return cancelled ?? job;
  }

  /**
   * A queued job leaves its queue and is cancelled at once; a running one is cancelled at once too,
   * and its worker, told over PostgreSQL, stops at the next step at the latest. Its fence makes sure
   * nothing it computes afterwards is recorded.
   */
  async cancel(principal: Principal, id: number): Promise<Job> {
    const job = await this.findOne(principal, id);
    const cancelled = await this.jobRows.cancel(id);
    if (!cancelled) throw new ConflictException(`Job ${id} is already ${job.status}; only a queued or running job can be cancelled`);
    await this.queue.remove(cancelled);
    this.dispatcher.dispatchSoon();
    return cancelled;
  }

  /**
   * A failed or cancelled job is queued again; the outputs its steps recorded stay, and those steps
   * are not redone. It counts against its owner's jobs in progress (429 when they are full).
   */
  async retry(principal: Principal, id: number): Promise<Job> {
    const job = await this.findOne(principal, id);
    const queued = await this.jobRows.retry(id, quotaDefaults(this.config));
    if (!queued) throw new ConflictException(`Job ${id} is ${job.status}; only a failed or cancelled job can be retried`);
    this.dispatcher.dispatchSoon();
    return queued;
  }
}

/**
 * Why a job has nothing to download: it has not finished, its outputs were deleted, or it never
 * made a file (a search, or a query that matched no histograms: its answer is its result).
 */
function noOutputsReason(job: Job): string {
  if (job.status !== JOB_STATUS.completed) return `Job ${job.id} is ${job.status}; it has no outputs yet`;
  const madeFiles =
    job.outputImageIds.length > 0 ||
    pipelineKind(job.jobType) === 'process' ||
    Array.isArray(job.result?.median) ||
    Array.isArray(job.result?.mean);
  return madeFiles
    ? `Job ${job.id} has no output files left: its output images were deleted`
    : `Job ${job.id} made no output files: its answer is its result`;
}
