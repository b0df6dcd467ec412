import { ApiProperty } from '@nestjs/swagger';
import type { QueueView } from '../queues.service';

class PendingByLaneDto {
  @ApiProperty({ example: 3 }) interactive: number;
  @ApiProperty({ example: 40 }) bulk: number;
}

/** A queue as GET /api/queues.json and the pause and resume routes answer it. */
export class QueueResponseDto {
  @ApiProperty({ example: 'process', description: "'process', 'query' or 'search': a job's queue is the first element of its job_type." })
  name: string;
  @ApiProperty({ description: 'A paused queue takes new jobs, as queued, and starts none of them; its running jobs finish.' })
  paused: boolean;
  @ApiProperty({ example: 43, description: 'Queued jobs not yet handed to a worker queue entry (the dispatcher decides their turn).' })
  pending: number;
  @ApiProperty({ type: PendingByLaneDto, description: 'The pending jobs by lane.' })
  pending_by_lane: PendingByLaneDto;
  @ApiProperty({ example: 4, description: 'Queued jobs handed to the worker queue that no worker has started yet.' })
  waiting: number;
  @ApiProperty({ example: 2 }) running: number;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: null,
    description: 'The most jobs of this queue running at once across every worker (QUEUE_CONCURRENCY_<name>); null: no cap.',
  })
  concurrency_cap: number | null;
  @ApiProperty({ type: String, format: 'date-time', description: 'When the queue was last paused or resumed.' })
  updated_at: string;

  static from(queue: QueueView): QueueResponseDto {
    return {
      name: queue.name,
      paused: queue.paused,
      pending: queue.pendingByLane.interactive + queue.pendingByLane.bulk,
      pending_by_lane: { ...queue.pendingByLane },
      waiting: queue.waiting,
      running: queue.running,
      concurrency_cap: queue.concurrencyCap,
      updated_at: queue.updatedAt.toISOString(),
    };
  }
}
