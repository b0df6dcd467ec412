import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { QueueState } from './queue-state.entity';

@Injectable()
export class QueueStateRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  all(manager: EntityManager = this.dataSource.manager): Promise<QueueState[]> {
    return manager.getRepository(QueueState).find({ order: { name: 'ASC' } });
  }

  /**
   * Pausing also takes back the entries of the queue's dispatched jobs: they return to pending with
   * a new delivery id, so that a worker taking one of those entries finds it stale and starts
   * nothing. A job a worker claimed before the pause committed runs to its end. Null: no such queue.
   */
  async setPaused(name: string, paused: boolean): Promise<QueueState | null> {
    return this.dataSource.transaction(async (manager) => {
      const [rows] = (await manager.query(
        'UPDATE queue_states SET paused = $2, updated_at = now() WHERE name = $1 RETURNING name, paused, updated_at AS "updatedAt"',
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
