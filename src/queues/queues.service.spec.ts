import { ForbiddenException, NotFoundException } from '@nestjs/common';
import { loadConfig } from '../config/app-config';
import { Principal } from '../identity/principal';
import type { JobDispatcher } from '../job-runs/job-dispatcher';
import type { QueueState } from '../job-runs/queue-state.entity';
import type { QueueStateRepository } from '../job-runs/queue-state.repository';
import { QueueResponseDto } from './dto/queue-response.dto';
import type { QueueStats, QueueStatsRepository } from './queue-stats.repository';
import { QueuesService } from './queues.service';

const UPDATED = new Date('2026-12-06T10:00:00Z');

/** queue_states and the jobs' counts, in memory: the service's rules without PostgreSQL. */
function fakes() {
  const paused = new Map([
    ['process', false],
    ['query', false],
    ['search', false],
  ]);
  const calls: [string, boolean][] = [];
  const stats = (name: string): QueueStats => ({
    name,
    paused: paused.get(name)!,
    updatedAt: UPDATED,
    pendingByLane: { interactive: 2, bulk: 5 },
    waiting: 1,
    running: 3,
  });
  const statsRepository = {
    all: async () => [...paused.keys()].map(stats),
    one: async (name: string) => (paused.has(name) ? stats(name) : null),
  } as unknown as QueueStatsRepository;
  const states = {
    setPaused: async (name: string, value: boolean): Promise<QueueState | null> => {
      calls.push([name, value]);
      if (!paused.has(name)) return null;
      paused.set(name, value);
      return { name, paused: value, updatedAt: UPDATED };
    },
  } as unknown as QueueStateRepository;
  return { statsRepository, states, calls };
}

describe('QueuesService', () => {
  const admin = Principal.adminToken();
  const user = Principal.forUser({ id: 4, admin: false });
  let service: QueuesService;
  let calls: [string, boolean][];
  let passes: number;

  beforeEach(() => {
    const { statsRepository, states, calls: made } = fakes();
    calls = made;
    passes = 0;
    const dispatcher = { dispatchSoon: () => passes++ } as unknown as JobDispatcher;
    service = new QueuesService(statsRepository, states, dispatcher, loadConfig({ QUEUE_CONCURRENCY_query: '1' }));
  });

  it('lists every queue with its cap: null where QUEUE_CONCURRENCY_<name> is 0', async () => {
    const queues = await service.findAll(admin);
    expect(queues.map((queue) => [queue.name, queue.concurrencyCap])).toEqual([
      ['process', null],
      ['query', 1],
      ['search', null],
    ]);
  });

  it('pauses and resumes in queue_states, and pausing twice answers the same; a resume wakes the dispatcher', async () => {
    const first = await service.pause(admin, 'process');
    const second = await service.pause(admin, 'process');
    expect(first).toMatchObject({ name: 'process', paused: true });
    expect(second).toEqual(first);
    expect(passes).toBe(0);
    expect(await service.resume(admin, 'process')).toMatchObject({ name: 'process', paused: false });
    expect(passes).toBe(1);
    expect(calls).toEqual([
      ['process', true],
      ['process', true],
      ['process', false],
    ]);
  });

  it('refuses an unknown queue with a 404 naming the known ones, before touching queue_states', async () => {
    const refusal = service.pause(admin, 'thumbnails');
    await expect(refusal).rejects.toThrow(NotFoundException);
    await expect(refusal).rejects.toThrow('No queue named "thumbnails": the queues are process, query, search');
    await expect(service.resume(admin, 'constructor')).rejects.toThrow(NotFoundException);
    expect(calls).toEqual([]);
    expect(passes).toBe(0);
  });

  it('refuses a non-admin, whatever the queue', async () => {
    await expect(service.findAll(user)).rejects.toThrow(new ForbiddenException('Only an admin may see the queues'));
    await expect(service.pause(user, 'process')).rejects.toThrow('Only an admin may pause or resume a queue');
    await expect(service.resume(user, 'nope')).rejects.toThrow('Only an admin may pause or resume a queue');
    expect(calls).toEqual([]);
  });

  it('answers the pending total beside its lanes, and dates as ISO text', async () => {
    const [first] = await service.findAll(admin);
    expect(QueueResponseDto.from(first)).toEqual({
      name: 'process',
      paused: false,
      pending: 7,
      pending_by_lane: { interactive: 2, bulk: 5 },
      waiting: 1,
      running: 3,
      concurrency_cap: null,
      updated_at: '2026-12-06T10:00:00.000Z',
    });
  });
});
