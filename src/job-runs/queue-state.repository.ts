import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AdvisoryLock } from '../database/advisory-locks';
import { QueueState } from './queue-state.entity';

@Injectable()
export class QueueStateRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  all(): Promise<QueueState[]> {
    return this.dataSource.getRepository(QueueState).find({ order: { name: 'ASC' } });
  }

  /**
   * Pausing also takes back the entries of the queue's dispatched jobs: they return to pending with
   * a new delivery id, so that a worker taking one of those entries finds it stale and starts
   * nothing. A job a worker claimed before the pause committed runs to its end. Null: no such queue.
   *
   * It takes the dispatch passes' lock first: a pass that read the queue as running before the
   * pause committed would otherwise commit its dispatches after the pause had looked for them,
   * and those jobs would start on a paused queue. Waiting for the pass lets this see them.
   */
  async setPaused(name: string, paused: boolean): Promise<QueueState | null> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.JobDispatch]);
      const [rows] = (await manager.query(
        // updated_at says when the queue was last paused or resumed: pausing it again keeps it.
        `UPDATE queue_states SET paused = $2, updated_at = CASE WHEN paused = $2 THEN updated_at ELSE now() END
          WHERE name = $1 RETURNING name, paused, updated_at AS "updatedAt"`,
        [name, paused],
      )) as [QueueState[], number];
      const state = rows[0];
      if (!state) return null;
      if (paused) {
        await manager.query(
          `UPDATE jobs SET dispatched_at = NULL, delivery_id = gen_random_uuid()
            WHERE status = 'queued' AND dispatched_at IS NOT NULL AND job_type[1] = $1`,
          [name],
        );
      }
      return state;
    });
  }
}
