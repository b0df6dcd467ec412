import { ApiProperty } from '@nestjs/swagger';
import type { Job } from '../../job-runs/job.entity';
import { jobJson } from '../../job-runs/job-json';
import type { QueueWait } from '../queue-wait';
import { JobResponseDto } from './job-response.dto';

/** A job as GET /api/jobs/:id.json answers it: its JSON and, while it is queued, where it stands. */
export class JobDetailResponseDto extends JobResponseDto {
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 12,
    description:
      'While the job is queued: an estimate of how many jobs of its queue will start before it, following the user turns and ' +
      'lanes (docs/api.md, "Lanes and waiting"). Jobs created later may still pass it in their users\' turns. Null otherwise.',
  })
  ahead: number | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description:
      'While the job is queued: when it may start, at the rate its queue started jobs over the last minute. Null when no ' +
      'honest estimate can be given (nothing started in the last minute, the queue is paused) and once it is no longer queued.',
  })
  estimated_start_at: string | null;

  static withWait(job: Job, wait: QueueWait | null): JobDetailResponseDto {
    return { ...jobJson(job), ahead: wait?.ahead ?? null, estimated_start_at: wait?.estimatedStartAt?.toISOString() ?? null };
  }
}
