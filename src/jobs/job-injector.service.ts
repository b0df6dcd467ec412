import { Injectable, Logger } from '@nestjs/common';
import { Principal } from '../identity/principal';
import { AppConfig } from '../config/app-config';
import { ImageTypesService } from '../image-types/image-types.service';
import { JobMetrics } from '../metrics/job-metrics';
import { JobDispatcher } from '../job-runs/job-dispatcher';
import { InjectJobsDto } from './dto/inject-jobs.dto';
import { Injection, InjectionSummary, parseInjection } from './job-injection';
import { INJECTION_BATCH, JobInjectionRepository } from './job-injection.repository';

/** Told how far a scan has got, for a progress bar. */
export interface InjectionProgress {
  start(totalImages: number): void;
  advance(scannedImages: number): void;
}

/**
 * The injector (the RQ seed's "make sure all of the outputs exist"): for every image a selection
 * matches, creates the process job that image has no completed or pending (queued, running) copy
 * of, with the same sequence and params; a failed or cancelled copy counts as missing.
 *
 * Images are read in keyset batches by id, so memory stays bounded whatever the count. Each batch
 * is one statement: the page of images, whether each already has such a job (decided in SQL, one
 * probe of jobs_image_id_idx per image), and a multi-row insert of the missing jobs. Like POST /api/jobs.json, the
 * rows are committed first, in the bulk lane, and then dispatched (docs/queues.md); should that
 * fail, the reconciler dispatches them later. The jobs belong to each image's owner and take the defaults of a
 * new job (JOB_TIMEOUT, MAX_RETRY, no ttl).
 *
 * Quotas: an injection is an admin's maintenance, so the owners' QUOTA_JOBS_IN_PROGRESS is not
 * checked for it (a million images of one user would otherwise stop at the thousandth). The jobs
 * still count as in progress, so an owner's own new jobs may get 429 until they drain; their
 * outputs still count against the owner's storage quota in the worker.
 *
 * Concurrent injections of the same job (sequence and params) take turns batch by batch under a
 * transaction-scoped advisory lock, and each batch decides after taking it, so it sees every job
 * the previous holder committed: together they create no more than one run would.
 */
@Injectable()
export class JobInjectorService {
  private readonly logger = new Logger(JobInjectorService.name);

  constructor(
    private readonly injections: JobInjectionRepository,
    private readonly imageTypes: ImageTypesService,
    private readonly dispatcher: JobDispatcher,
    private readonly config: AppConfig,
    private readonly metrics: JobMetrics,
  ) {}

  async inject(principal: Principal, dto: InjectJobsDto, progress?: InjectionProgress): Promise<InjectionSummary> {
    principal.requireAdmin('inject jobs');
    const injection = parseInjection(dto);
    if (injection.imageType !== null) await this.imageTypes.assertExists(injection.imageType, 'image_type');
    return this.run(injection, progress);
  }

  private async run(injection: Injection, progress?: InjectionProgress): Promise<InjectionSummary> {
    const summary: InjectionSummary = {
      sequence: injection.sequence,
      params: injection.params,
      matched: 0,
      done: 0,
      pending: 0,
      created: 0,
      force: injection.force,
      dryRun: injection.dryRun,
    };
    if (progress) progress.start(await this.injections.countMatching(injection));
    const defaults = { timeout: this.config.JOB_TIMEOUT, maxAttempts: this.config.MAX_RETRY };
    let afterId = 0;
    for (;;) {
      const rows = await this.injections.batch(injection, afterId, defaults);
      if (rows.length === 0) break;
      const created = rows.filter((row) => row.job_id !== null);
      for (const row of rows) {
        if (row.done) summary.done++;
        else if (row.pending) summary.pending++;
      }
      summary.matched += rows.length;
      summary.created += created.length;
      afterId = rows[rows.length - 1].image_id;
      this.metrics.jobsCreated(injection.sequence, created.length);
      if (created.length > 0) await this.dispatch(created.length);
      progress?.advance(summary.matched);
      if (rows.length < INJECTION_BATCH) break;
    }
    this.logger.log(
      `Injected ${summary.created} ${injection.sequence.join(',')} job(s) over ${summary.matched} image(s)` +
        `${injection.dryRun ? ' (dry run)' : ''}: ${summary.done} done, ${summary.pending} pending`,
    );
    return summary;
  }

  /** The rows are committed: should the dispatch fail, the reconciler's pass dispatches them later. */
  private async dispatch(created: number): Promise<void> {
    await this.dispatcher.dispatch().catch((error: Error) => {
      this.logger.warn(`${created} injected job(s) are saved but not yet dispatched (${error.message}); the reconciler will dispatch them`);
    });
  }
}
