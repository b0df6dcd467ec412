import { ApiProperty } from '@nestjs/swagger';
import type { Job, JobResult } from '../../job-runs/job.entity';
import { jobJson, type JobJson } from '../../job-runs/job-json';
import { JOB_LANE, JOB_LANES, type JobLane } from '../../pipelines/job-states';

/** A job as the API answers it, documented for OpenAPI: the shape itself is src/job-runs/job-json.ts's. */
export class JobResponseDto implements JobJson {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'queued', description: "'queued', 'running', 'completed', 'failed' or 'cancelled'" }) status: string;
  @ApiProperty({
    enum: JOB_LANES,
    example: JOB_LANE.interactive,
    description:
      'Which lane of its queue the job waits in: workers take `interactive` jobs first, and `bulk` jobs (the injector, large batches, ' +
      '`"lane": "bulk"`) keep BULK_SHARE percent of the slots while they wait.',
  })
  lane: JobLane;
  @ApiProperty({ type: String, nullable: true }) environment: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '/api/images/7/file',
    description: "Where to download the job's source image (image_id), relative to the server; null when the job has none.",
  })
  image_url: string | null;
  @ApiProperty({ type: [String], example: ['process', 'grayscale', 'histogram'] }) job_type: string[];
  @ApiProperty() user_id: number;
  @ApiProperty({ type: Number, nullable: true }) image_id: number | null;
  @ApiProperty({
    type: Object,
    description:
      "The job's parameters: a process job's by operation name, or for a job of branches (eager derivatives), `branches`: " +
      '[{"steps": [...], "params": {...}}, ...], each a chain from the image whose steps `job_type` lists one after the other.',
    example: { resize: { width: 800 } },
  })
  params: Record<string, object>;
  @ApiProperty({ description: 'Percent of the steps done.' }) progress: number;
  @ApiProperty({ description: 'How many times a worker has started the job.' }) attempts: number;
  @ApiProperty({ description: 'Attempts allowed before the job fails.' }) max_attempts: number;
  @ApiProperty({ description: 'Seconds one attempt may run.' }) timeout: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Seconds it may wait queued before expiring.' }) ttl: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why the job failed, or why an attempt is being retried.' })
  error: string | null;
  @ApiProperty({ type: [Number], description: "Each step's output image id, in step order." }) outputs: number[];
  @ApiProperty({ description: 'Every step is computed, even where the same work was done before.' }) force: boolean;
  @ApiProperty({
    type: [Number],
    example: [0, 1],
    description: 'The steps (indices into outputs) that were not computed: their output shares the file of the same work done before.',
  })
  reused_steps: number[];
  @ApiProperty({
    type: Object,
    nullable: true,
    description: 'query: {"median" or "mean": [256 numbers], "count"}; search: {"neighbors": [{user_id, image_id, distance}], "count"}',
  })
  result: JobResult | null;
  @ApiProperty({ type: String, nullable: true, description: "Where the job's end is announced as a signed webhook." })
  callback_url: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) started_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finished_at: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  static from(job: Job): JobResponseDto {
    return jobJson(job);
  }
}
