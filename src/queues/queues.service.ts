import { Injectable, NotFoundException } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Principal } from '../identity/principal';
import { JobDispatcher } from '../job-runs/job-dispatcher';
import { QueueStateRepository } from '../job-runs/queue-state.repository';
import { QUEUE_NAMES } from '../job-runs/queue-names';
import type { PipelineKind } from '../pipelines/job-sequence';
import { QueueStats, QueueStatsRepository } from './queue-stats.repository';

/** A queue's figures with the cap the configuration sets on it. */
export interface QueueView extends QueueStats {
  concurrencyCap: number | null;
}

export const SEE_QUEUES = 'see the queues';
export const PAUSE_QUEUES = 'pause or resume a queue';

/**
 * The queues as an admin resource: their state and backlog, and the pause. A pause is kept in
 * PostgreSQL (queue_states), so it holds on every node and through restarts; the dispatcher gives
 * a paused queue's jobs no queue entry, and pausing takes back the entries already given.
 */
@Injectable()
export class QueuesService {
  constructor(
    private readonly stats: QueueStatsRepository,
    private readonly states: QueueStateRepository,
    private readonly dispatcher: JobDispatcher,
    private readonly config: AppConfig,
  ) {}

  async findAll(principal: Principal): Promise<QueueView[]> {
    principal.requireAdmin(SEE_QUEUES);
    return (await this.stats.all()).map((queue) => this.view(queue));
  }

  /** Pausing a paused queue changes nothing and answers the same. */
  async pause(principal: Principal, name: string): Promise<QueueView> {
    principal.requireAdmin(PAUSE_QUEUES);
    await this.setPaused(name, true);
    return this.findOne(name);
  }

  async resume(principal: Principal, name: string): Promise<QueueView> {
    principal.requireAdmin(PAUSE_QUEUES);
    await this.setPaused(name, false);
    // The queue's pending jobs wait for a pass; the next one would otherwise come with the next
    // job created or ended, or the reconciler's.
    this.dispatcher.dispatchSoon();
    return this.findOne(name);
  }

  private async setPaused(name: string, paused: boolean): Promise<void> {
    const known = isQueueName(name) && (await this.states.setPaused(name, paused)) !== null;
    if (!known) throw noSuchQueue(name);
  }

  private async findOne(name: string): Promise<QueueView> {
    const queue = await this.stats.one(name);
    if (!queue) throw noSuchQueue(name);
    return this.view(queue);
  }

  private view(queue: QueueStats): QueueView {
    const cap = isQueueName(queue.name) ? this.config[`QUEUE_CONCURRENCY_${queue.name}`] : 0;
    return { ...queue, concurrencyCap: cap === 0 ? null : cap };
  }
}

function isQueueName(name: string): name is PipelineKind {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}

function noSuchQueue(name: string): NotFoundException {
  return new NotFoundException(`No queue named ${JSON.stringify(name)}: the queues are ${QUEUE_NAMES.join(', ')}`);
}
