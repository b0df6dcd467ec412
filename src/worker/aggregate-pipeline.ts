import { Injectable } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import sharp from 'sharp';
import { AppConfig } from '../config/app-config';
import { HistogramCache } from '../histograms/histogram-cache';
import type { SelectedHistograms } from '../histograms/histogram-reader';
import { ImagesService } from '../images/images.service';
import { AggregateRequest, parseAggregateRequest } from '../pipelines/aggregate-request';
import { Job } from '../jobs/job.entity';
import { QueuedJobData } from '../queue/queue-names';
import { meanInThreads, medianInThreads, nearestInThreads } from './aggregates/reducer-threads';
import { JobOutcome, JobRunner } from './job-runner';
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
    private readonly images: ImagesService,
    private readonly config: AppConfig,
  ) {}

  run(queued: QueuedJob<QueuedJobData>): Promise<void> {
    return this.runner.run(queued, (job) => this.aggregate(job));
  }

  private async aggregate(job: Job): Promise<JobOutcome> {
    const hasParams = Object.keys(job.params).length > 0;
    // The same parser as at creation, on the stored request: dates are read relative to now.
    const request = parseAggregateRequest(job.jobType, 'job_type', hasParams ? undefined : (job.environment ?? undefined), hasParams ? job.params : undefined);
    const target = request.reducer === 'nearest_neighbor' ? await this.targetOf(job, request) : null;
    return this.histograms.withSelected(request.selection, (selected) => this.reduce(job, request, target, selected));
  }

  private async reduce(job: Job, request: AggregateRequest, target: number[] | null, selected: SelectedHistograms): Promise<JobOutcome> {
    if (selected.count === 0) {
      return {
        outputImageIds: [],
        result: { count: 0, [request.reducer === 'nearest_neighbor' ? 'neighbors' : request.reducer]: request.reducer === 'nearest_neighbor' ? [] : null, message: 'No histograms matched the selection' },
      };
    }
    if (target) {
      const neighbors = await nearestInThreads(selected, target, request.userId ?? job.userId, request.k);
      return { outputImageIds: [], result: { count: selected.count, neighbors } };
    }
    const bins = request.reducer === 'median' ? await medianInThreads(selected) : await meanInThreads(selected);
    const title = `${request.reducer === 'median' ? 'Median' : 'Mean'} histogram of ${selected.count} histogram${selected.count === 1 ? '' : 's'}`;
    const chart = await encodePng(sharp(Buffer.from(histogramChartSvg(bins, title))).removeAlpha(), {
      pngCompression: this.config.PNG_COMPRESSION,
    });
    const output = await this.runner.storeOutput(job, 0, request.reducer, chart, 100);
    return { outputImageIds: [output.id], result: { count: selected.count, [request.reducer]: bins } };
  }

  /** The target's bins; it must still be a histogram image of the job's owner. */
  private async targetOf(job: Job, request: AggregateRequest): Promise<number[]> {
    const bins = request.target ? await this.images.histogramOf(job.userId, request.target) : null;
    if (!bins) throw new UnrecoverableError('The target histogram no longer exists');
    return bins;
  }
}
