import { BadGatewayException, ConflictException, Injectable, Logger, NotFoundException, OnModuleInit } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalidField } from '../common/api-errors';
import { AppConfig } from '../config/app-config';
import { JobEventHub } from '../events/job-event-hub';
import { Principal } from '../identity/principal';
import { downloadOf, ImageFileDownload, ImageFilesService } from '../images/image-files.service';
import type { Image } from '../images/image.entity';
import { ImagesService } from '../images/images.service';
import { ImageHooks } from '../images/image.hooks';
import { Job, JOB_LANE, JOB_STATUS } from '../job-runs/job.entity';
import { JobsService } from '../jobs/jobs.service';
import { QuotaExceededError } from '../common/quota-exceeded.error';
import { IMAGE_STATUS } from '../pipelines/image-states';
import { branchedJobs, type PresetSteps, resolvePresetSteps, ResolvedPresetSteps } from '../pipelines/preset-steps';
import { PresetsService } from '../presets/presets.service';
import { isStorageExceeded } from '../quotas/quotas';
import { type EncoderSettings, stepsKey } from '../work-reuse/work-key';
import { DerivativesRepository, type SettledClaim } from './derivatives.repository';

const ENDED = new Set<string>([JOB_STATUS.completed, JOB_STATUS.failed, JOB_STATUS.cancelled]);

/**
 * What an eager derivative's `format: "auto"` becomes, with no request to negotiate with: WebP,
 * which every current browser and mobile platform decodes. A later request whose Accept header
 * chooses AVIF or JPEG makes that format on demand.
 */
const EAGER_ACCEPT = 'image/webp';

/**
 * How many jobs one request looks for the derivative's file in: when the job it waited for, or
 * that job's output, is deleted as it ends, it looks once more (a new job replaces the deleted one).
 */
const ROUNDS = 2;

/** The first wait for another request's claim to become a job; it doubles up to the last. */
const CLAIM_POLL_MS = [10, 20, 40, 80, 160];

/** What GET /api/images/:id/derivatives/:preset answers. */
export type DerivativeAnswer = {
  /** The answer depends on the Accept header: the preset lets it choose the format. */
  negotiated: boolean;
} & (
  | { kind: 'file'; file: ImageFileDownload }
  /** The job has not ended within DERIVATIVE_WAIT. */
  | { kind: 'pending'; job: Job }
  /** Another request is creating the job and had not recorded it within DERIVATIVE_WAIT. */
  | { kind: 'claimed_elsewhere' }
);

/**
 * Derivatives by URL: a preset applied to an image, made once by an interactive process job
 * created through JobsService (events, reuse, quotas, lanes) and then served from its last output.
 * The derivatives table names the job by the image and the hash of the preset's steps as resolved
 * for the request, so concurrent first requests share one job and a changed preset makes anew.
 */
@Injectable()
export class DerivativesService implements OnModuleInit {
  private readonly logger = new Logger(DerivativesService.name);
  private readonly settings: EncoderSettings;

  constructor(
    private readonly derivatives: DerivativesRepository,
    private readonly presets: PresetsService,
    private readonly images: ImagesService,
    private readonly imageFiles: ImageFilesService,
    private readonly jobs: JobsService,
    private readonly hub: JobEventHub,
    private readonly imageHooks: ImageHooks,
    private readonly config: AppConfig,
  ) {
    this.settings = { pngCompression: config.PNG_COMPRESSION };
  }

  onModuleInit(): void {
    this.imageHooks.onOriginalStored((image) => this.makeEager(image));
    this.imageHooks.onDependents((manager, imageId) => this.derivatives.imagesOf(manager, imageId));
  }

  /**
   * Eager derivatives: as soon as an original is stored, one interactive job makes every preset
   * its upload or its image type names, each preset a branch of steps starting from the original
   * (branchedJobs; more than one job only past MAX_STEPS steps), and each is registered as a
   * derivative with its branch's last step, so that the first GET finds it made or being made. A
   * preset whose derivative already has a job (or a request creating one) is left to it. A failure
   * (a preset deleted since, a quota) costs only the derivatives it concerns, which their first
   * requests then make: the upload has succeeded.
   */
  async makeEager(image: Image): Promise<void> {
    const names = [...new Set([...image.eagerPresets, ...(image.imageType?.presets ?? [])])];
    if (names.length === 0) return;
    const claimed: { name: string; stepsKey: string; claim: string; spec: ResolvedPresetSteps['spec'] }[] = [];
    for (const name of names) {
      try {
        const preset = await this.presets.findOne(name);
        const resolved = resolvePresetSteps({ sequence: preset.jobType, params: preset.params }, EAGER_ACCEPT);
        const key = stepsKey(resolved.spec.steps, resolved.autoFormat, this.settings);
        const entry = await this.derivatives.jobOrClaim(image.id, key);
        if (entry.kind === 'claimed') claimed.push({ name, stepsKey: key, claim: entry.claim, spec: resolved.spec });
      } catch (error) {
        this.notStarted(image, [name], error);
      }
    }
    const principal = Principal.adminToken();
    for (const job of branchedJobs(claimed.map((entry) => entry.spec))) {
      const made = job.made.map((position) => claimed[position]);
      const claims = made.map(({ stepsKey: key, claim }, index) => ({ stepsKey: key, claim, outputStep: job.lastSteps[index] }));
      await this.createUnder(principal, image.id, image.userId, claims, job).catch((error: unknown) =>
        this.notStarted(
          image,
          made.map((entry) => entry.name),
          error,
        ),
      );
    }
  }

  private notStarted(image: Image, names: string[], error: unknown): void {
    this.logger.warn(
      `Image ${image.id}: the eager derivatives ${names.map((name) => `"${name}"`).join(', ')} were not started ` +
        `(${(error as Error).message}); the first request for each makes it`,
    );
  }

  async serve(principal: Principal, imageId: number, presetName: string, accept: string | undefined): Promise<DerivativeAnswer> {
    const deadline = Date.now() + this.config.DERIVATIVE_WAIT * 1000;
    const preset = await this.presets.findOne(presetName);
    return this.serveSteps(principal, imageId, { sequence: preset.jobType, params: preset.params }, accept, deadline);
  }

  /**
   * Steps applied to an image, made and shared as a preset's are: the derivative is named by the
   * steps themselves (stepsKey), never by a preset's name, so free-form steps that equal a preset's
   * share its derivative.
   */
  async serveSteps(
    principal: Principal,
    imageId: number,
    steps: PresetSteps,
    accept: string | undefined,
    deadline = Date.now() + this.config.DERIVATIVE_WAIT * 1000,
  ): Promise<DerivativeAnswer> {
    const resolved = resolvePresetSteps(steps, accept);
    const negotiated = resolved.autoFormat !== null;
    const key = stepsKey(resolved.spec.steps, resolved.autoFormat, this.settings);
    // A made derivative, the most common request by far, is answered from this one statement.
    const image = await this.derivatives.made(imageId, key);
    if (!image || !principal.owns(image.ownerId)) throw new NotFoundException(`No image with id ${imageId}`);
    if (!image.stored) {
      throw new ConflictException(`Image ${imageId} has no stored file yet: upload it first (PUT /api/images/${imageId}/file)`);
    }
    const made = image.output && downloadOf(image.output, image.output.typeName);
    if (made) return { negotiated, kind: 'file', file: made };
    for (let round = 1; ; round++) {
      const found = await this.jobFor(principal, imageId, image.ownerId, key, resolved, deadline);
      if (!found) return { negotiated, kind: 'claimed_elsewhere' };
      if (found.file) return { negotiated, kind: 'file', file: found.file };
      const ended = await this.waitForEnd(principal, found.job, deadline);
      if (ended && !ENDED.has(ended.status)) return { negotiated, kind: 'pending', job: ended };
      if (ended?.status === JOB_STATUS.completed) {
        const file = await this.outputOf(principal, ended, found.outputStep);
        if (file) return { negotiated, kind: 'file', file };
      } else if (ended) {
        throw await this.failure(principal, imageId, ended);
      }
      if (round === ROUNDS) {
        throw new NotFoundException(`The job making this derivative, or its output, was deleted as it ended; request it again`);
      }
    }
  }

  /**
   * The job that makes the derivative and the step of it whose output is its file: the recorded
   * one, or one this request creates under its claim. A recorded job that failed, was cancelled or
   * was deleted, or whose output was deleted, is replaced by a new one. A completed one comes with
   * its output's file, opened. Null when another request's claim is still unsettled at `deadline`.
   */
  private async jobFor(
    principal: Principal,
    imageId: number,
    ownerId: number,
    key: string,
    resolved: ResolvedPresetSteps,
    deadline: number,
  ): Promise<{ job: Job; outputStep: number | null; file?: ImageFileDownload } | null> {
    const create = async (claim: string) => {
      const outputStep = resolved.spec.steps.length - 1;
      const { spec } = resolved;
      const job = await this.createUnder(principal, imageId, ownerId, [{ stepsKey: key, claim, outputStep }], {
        jobType: spec.sequence,
        params: spec.params,
      });
      return { job, outputStep };
    };
    for (let poll = 0; ; poll++) {
      const entry = await this.derivatives.jobOrClaim(imageId, key);
      if (entry.kind === 'claimed') return create(entry.claim);
      if (entry.kind === 'job') {
        const { outputStep } = entry;
        const job = await this.reread(principal, entry.jobId);
        const file = job?.status === JOB_STATUS.completed ? await this.outputOf(principal, job, outputStep) : null;
        if (job && file) return { job, outputStep, file };
        if (job && !ENDED.has(job.status)) return { job, outputStep };
        const claim = await this.derivatives.reclaim(imageId, key, entry.jobId);
        if (claim) return create(claim);
        continue;
      }
      if (Date.now() >= deadline) return null;
      await sleep(CLAIM_POLL_MS[Math.min(poll, CLAIM_POLL_MS.length - 1)]);
    }
  }

  /**
   * Creates the interactive job making the claimed derivatives through the normal job path, then
   * records it for each with its step; a job that cannot be created gives the claims up.
   */
  private async createUnder(
    principal: Principal,
    imageId: number,
    ownerId: number,
    claims: SettledClaim[],
    { jobType, params }: { jobType: string[]; params: Record<string, object> },
  ): Promise<Job> {
    let job: Job;
    try {
      job = await this.jobs.create(principal, {
        image_id: imageId,
        user_id: ownerId,
        job_type: jobType,
        params,
        lane: JOB_LANE.interactive,
      });
    } catch (error) {
      for (const { stepsKey: key, claim } of claims) await this.derivatives.release(imageId, key, claim);
      throw error;
    }
    await this.derivatives.settle(imageId, job.id, claims);
    return job;
  }

  /**
   * The job once it has ended, or as it is at `deadline`; null if it was deleted meanwhile. The
   * wait is on the job's events (JobEventHub, one LISTEN connection per process), subscribed
   * before the row is read, so that an end committed in between is not missed.
   */
  private async waitForEnd(principal: Principal, job: Job, deadline: number): Promise<Job | null> {
    if (ENDED.has(job.status)) return job;
    let wake = (): void => undefined;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const unsubscribe = this.hub.subscribe({ jobId: job.id }, (event) => {
      if (event.type === 'status' && ENDED.has(String(event.data.status))) wake();
    });
    const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
    try {
      const current = await this.reread(principal, job.id);
      if (current === null || ENDED.has(current.status) || Date.now() >= deadline) return current;
      await woken;
      return await this.reread(principal, job.id);
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  }

  private reread(principal: Principal, jobId: number): Promise<Job | null> {
    return this.jobs.findOne(principal, jobId).catch((error: unknown) => {
      if (error instanceof NotFoundException) return null;
      throw error;
    });
  }

  /** The file of the completed job's step `outputStep` (null: its last); null when that output was deleted. */
  private async outputOf(principal: Principal, job: Job, outputStep: number | null): Promise<ImageFileDownload | null> {
    const imageId = await this.derivatives.outputOf(job.id, outputStep ?? job.jobType.length - 2);
    if (imageId === null) return null;
    return this.imageFiles.findFile(principal, imageId).catch((error: unknown) => {
      if (error instanceof NotFoundException) return null;
      throw error;
    });
  }

  /**
   * Why the derivative's job did not make it. A corrupt original is the request's own fault
   * (422), and a full storage quota its owner's (413, as for an upload); a cancel is a conflict
   * with whoever cancelled; any other failure is the processing's (502). The next request makes it
   * anew.
   */
  private async failure(principal: Principal, imageId: number, job: Job): Promise<Error> {
    if (job.status === JOB_STATUS.cancelled) {
      return new ConflictException(`Job ${job.id}, making this derivative, was cancelled; request it again to make it anew`);
    }
    const image = await this.images.findOne(principal, imageId);
    if (image.status === IMAGE_STATUS.corrupt) {
      return invalidField(
        'id',
        `Image ${imageId} is corrupt: ${image.corruptReason}; upload its file again (PUT /api/images/${imageId}/file)`,
      );
    }
    const why = `Job ${job.id}, making this derivative, failed: ${job.error}`;
    if (isStorageExceeded(job.error)) return new QuotaExceededError('storage', `${why}; make room, then request it again`);
    return new BadGatewayException(`${why}; request it again to make it anew`);
  }
}
