import { Injectable } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import sharp from 'sharp';
import { AppConfig } from '../config/app-config';
import { HistogramCache } from '../histograms/histogram-cache';
import type { SelectedHistograms } from '../histograms/histogram-store';
import { AggregateRequest } from '../pipelines/aggregate-request';
import { jobSpecOf } from '../pipelines/job-spec';
import { Job } from '../job-runs/job.entity';
import { QueuedJobData } from '../job-runs/queue-names';
import { ReducerThreads } from './aggregates/reducer-threads';
import { JobOutputRepository } from '../job-runs/job-output.repository';
import { Attempt, JobOutcome, JobRunner } from '../job-runs/job-runner';
import { encodePng } from './operations/encode';
import { histogramChartSvg } from './operations/histogram-chart';

/**
 * Runs the seed's `query` and `search` jobs over every user's histograms: the element-wise median
 * or mean of a selection (with a bar chart of it as the job's output image), or the K users whose
 * histograms are nearest a target. The arithmetic runs in worker threads.
 */
@Injectable()
export class AggregatePipeline {
  constructor(
    private readonly runner: JobRunner,
    private readonly histograms: HistogramCache,
    private readonly outputs: JobOutputRepository,
    private readonly config: AppConfig,
    private readonly threads: ReducerThreads,
  ) {}

  run(queued: QueuedJob<QueuedJobData>): Promise<void> {
    return this.runner.run(queued, (attempt) => this.aggregate(attempt));
  }

  private async aggregate(attempt: Attempt): Promise<JobOutcome> {
    const { job } = attempt;
    // The same parser as at creation, on the stored request: dates are read relative to now.
    const spec = jobSpecOf(job);
    if (spec.kind === 'process') throw new UnrecoverableError(`Job ${job.id} is not a query or search job`);
    const request = spec.aggregate;
    const target = request.reducer === 'nearest_neighbor' ? await this.targetOf(job, request) : null;
    attempt.throwIfStopped();
    return this.histograms.withSelected(request.selection, (selected) => this.reduce(attempt, request, target, selected));
  }

  private async reduce(
    attempt: Attempt,
    request: AggregateRequest,
    target: number[] | null,
    selected: SelectedHistograms,
  ): Promise<JobOutcome> {
    if (selected.count === 0) {
      return {
        outputImageIds: [],
        result: {
          count: 0,
          [request.reducer === 'nearest_neighbor' ? 'neighbors' : request.reducer]: request.reducer === 'nearest_neighbor' ? [] : null,
          message: 'No histograms matched the selection',
        },
      };
    }
    if (target) {
      const neighbors = await this.threads.nearest(selected, target, request.userId ?? attempt.job.userId, request.k);
      return { outputImageIds: [], result: { count: selected.count, neighbors } };
    }
    const bins = request.reducer === 'median' ? await this.threads.median(selected) : await this.threads.mean(selected);
    const title = `${request.reducer === 'median' ? 'Median' : 'Mean'} histogram of ${selected.count} histogram${selected.count === 1 ? '' : 's'}`;
    const chart = await encodePng(sharp(Buffer.from(histogramChartSvg(bins, title))).removeAlpha(), {
      pngCompression: this.config.PNG_COMPRESSION,
    });
    // An aggregate's chart depends on every histogram it read: no key names that work, so it is never reused.
    const output = await this.runner.storeOutput(attempt, 0, request.reducer, chart, 100, null, true);
    return { outputImageIds: [output.id!], result: { count: selected.count, [request.reducer]: bins } };
  }

  /** The target's bins; it must still be a histogram image of the job's owner. */
  private async targetOf(job: Job, request: AggregateRequest): Promise<number[]> {
    const bins = request.target ? await this.outputs.histogramOf(job.userId, request.target) : null;
    if (!bins) throw new UnrecoverableError('The target histogram no longer exists');
    return bins;
  }
}
