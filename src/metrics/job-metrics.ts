import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { PIPELINE_KINDS } from '../pipelines/job-sequence';
import { MetricsRegistry } from './metrics-registry';

export type JobEnd = 'completed' | 'failed' | 'cancelled';

/**
 * The `operation` label of job metrics: the job's pipeline kind (`process`, `query` or `search`),
 * the first element of every stored sequence. Bounded, whatever the steps: a label per sequence
 * would grow with every combination clients send.
 */
export function operationLabel(jobType: readonly string[]): string {
  const kind = jobType[0];
  return (PIPELINE_KINDS as readonly string[]).includes(kind) ? kind : 'unknown';
}

/** From a few milliseconds (a reused step) to the default JOB_TIMEOUT and beyond. */
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const STEP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Job counters and durations. Each process counts the transitions it makes (the API creates and
 * cancels, workers complete and fail, whichever process reconciles expires), and only when its
 * conditional UPDATE changed the row: a duplicate delivery, or a racing cancel, counts nothing.
 * Prometheus sums the processes' series.
 */
@Injectable()
export class JobMetrics {
  private readonly created: Counter<'operation'>;
  private readonly ended: Record<JobEnd, Counter<'operation'>>;
  private readonly jobDuration: Histogram<'operation' | 'outcome'>;
  private readonly stepDuration: Histogram<'operation' | 'reused'>;

  constructor({ registry }: MetricsRegistry) {
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['operation'], registers: [registry] });
    this.created = counter('darkroom_jobs_created_total', 'Jobs created (POST /api/jobs and the injector), by pipeline kind');
    this.ended = {
      completed: counter('darkroom_jobs_completed_total', 'Jobs that completed, by pipeline kind'),
      failed: counter('darkroom_jobs_failed_total', 'Jobs that failed for good (not the attempts retried), by pipeline kind'),
      cancelled: counter('darkroom_jobs_cancelled_total', 'Jobs cancelled (or deleted while unfinished), by pipeline kind'),
    };
    this.jobDuration = new Histogram({
      name: 'darkroom_job_duration_seconds',
      help: "Run time of a job's final attempt, from its claim by a worker to its end, by pipeline kind and outcome",
      labelNames: ['operation', 'outcome'],
      buckets: JOB_BUCKETS,
      registers: [registry],
    });
    this.stepDuration = new Histogram({
      name: 'darkroom_step_duration_seconds',
      help: 'Time of one step of a process job (computed, or reused from identical earlier work), by operation',
      labelNames: ['operation', 'reused'],
      buckets: STEP_BUCKETS,
      registers: [registry],
    });
  }

  jobsCreated(jobType: readonly string[], count = 1): void {
    if (count > 0) this.created.inc({ operation: operationLabel(jobType) }, count);
  }

  jobEnded(jobType: readonly string[], end: JobEnd): void {
    this.ended[end].inc({ operation: operationLabel(jobType) });
  }

  /** The attempt that ended the job, `completed` or `failed`. */
  attemptEnded(jobType: readonly string[], outcome: 'completed' | 'failed', seconds: number): void {
    this.jobDuration.observe({ operation: operationLabel(jobType), outcome }, seconds);
  }

  /** `operation` is a name of the operation catalogue, which job creation checked. */
  stepEnded(operation: string, reused: boolean, seconds: number): void {
    this.stepDuration.observe({ operation, reused: String(reused) }, seconds);
  }
}
