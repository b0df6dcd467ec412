import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SelectedHistograms } from '../../histograms/histogram-store';
import { medianOfBins, type NearestCandidate, nearestUsers, sumOfBins } from './histogram-reducers';

const REDUCERS = { medianOfBins, sumOfBins, nearestUsers };
type Reducers = typeof REDUCERS;

// The thread's program is the reducers' own compiled source, so it runs the same code as the
// unit tests check, from ts-jest and from dist alike, with no separate entry file to build.
const PROGRAM = `
const { parentPort } = require('node:worker_threads');
${Object.values(REDUCERS)
  .map((reducer) => reducer.toString())
  .join('\n')}
const reducers = { ${Object.keys(REDUCERS).join(', ')} };
parentPort.on('message', ({ name, args }) => {
  try {
    parentPort.postMessage({ result: reducers[name](...args) });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.stack || error) });
  }
});
`;

const MAX_THREADS = 4;

export interface Neighbor {
  user_id: number;
  image_id: number;
  distance: number;
}

interface Task {
  name: keyof Reducers;
  args: unknown[];
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * The reductions of query and search jobs, shared between threads that live as long as the
 * worker: a median over a million histograms is hundreds of millions of operations, which must
 * not stall the event loop where BullMQ renews the job's lock, and which two cores do in about
 * half the time. The tiles are in shared memory, so the threads read them where they lie; a
 * thread costs tens of milliseconds to start, which a job no longer pays.
 */
@Injectable()
export class ReducerThreads implements OnModuleDestroy {
  private readonly size = Math.max(1, Math.min(availableParallelism(), MAX_THREADS));
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private started = 0;

  async onModuleDestroy(): Promise<void> {
    const threads = this.idle.splice(0);
    this.started -= threads.length;
    await Promise.all(threads.map((thread) => thread.terminate()));
  }

  get threads(): number {
    return this.size;
  }

  async median(selected: SelectedHistograms): Promise<number[]> {
    const parts = await Promise.all(
      binRanges(this.size).map(([first, end]) =>
        this.run('medianOfBins', [selected.tiles, selected.mask, selected.tileCounts, selected.count, first, end]),
      ),
    );
    return parts.flat();
  }

  async mean(selected: SelectedHistograms): Promise<number[]> {
    const parts = await Promise.all(
      binRanges(this.size).map(([first, end]) => this.run('sumOfBins', [selected.tiles, selected.mask, selected.tileCounts, first, end])),
    );
    return parts.flat().map((sum) => sum / selected.count);
  }

  async nearest(selected: SelectedHistograms, target: number[], excludeUserId: number, k: number): Promise<Neighbor[]> {
    const parts = await Promise.all(
      tileRanges(selected.tileCounts, selected.tiles.length, this.size).map(([first, end]) =>
        this.run('nearestUsers', [selected.tiles, selected.mask, selected.tileCounts, first, end, target, excludeUserId, k]),
      ),
    );
    return mergeNearest(parts, k);
  }

  private run<Name extends keyof Reducers>(name: Name, args: Parameters<Reducers[Name]>): Promise<ReturnType<Reducers[Name]>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ name, args, resolve: resolve as (result: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let thread = this.idle.pop();
      if (!thread && this.started < this.size) thread = this.spawn();
      if (!thread) return;
      this.assign(thread, this.queue.shift()!);
    }
  }

  private spawn(): Worker {
    this.started++;
    const thread = new Worker(PROGRAM, { eval: true });
    thread.unref();
    return thread;
  }

  private assign(thread: Worker, task: Task): void {
    const onMessage = (message: { result?: unknown; error?: string }) =>
      message.error === undefined
        ? settle(() => task.resolve(message.result), true)
        : settle(() => task.reject(new Error(`A reducer thread failed: ${message.error}`)), true);
    const onError = (error: Error) => settle(() => task.reject(error), false);
    const onExit = (code: number) => settle(() => task.reject(new Error(`The reducer thread exited with code ${code}`)), false);
    // Only this task's own listeners go: the Worker keeps listeners of its own on itself.
    const settle = (finish: () => void, reusable: boolean) => {
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
      finish();
      if (reusable) this.idle.push(thread);
      else {
        this.started--;
        void thread.terminate();
      }
      this.dispatch();
    };
    thread.once('message', onMessage);
    thread.once('error', onError);
    thread.once('exit', onExit);
    thread.postMessage({ name: task.name, args: task.args });
  }
}

/**
 * The k nearest users over all the parts, from each part's own k nearest: a user among the k
 * nearest overall is among the k nearest of the part holding their closest histogram.
 */
export function mergeNearest(parts: NearestCandidate[][], k: number): Neighbor[] {
  const precedes = (a: NearestCandidate, b: NearestCandidate) => a.squared - b.squared || a.image_id - b.image_id;
  const best = new Map<number, NearestCandidate>();
  for (const candidate of parts.flat()) {
    const current = best.get(candidate.user_id);
    if (!current || precedes(candidate, current) < 0) best.set(candidate.user_id, candidate);
  }
  return [...best.values()]
    .sort(precedes)
    .slice(0, k)
    .map(({ user_id, image_id, squared }) => ({ user_id, image_id, distance: Math.sqrt(squared) }));
}

/** The 256 bins in `parts` runs of about equal length. */
export function binRanges(parts: number): [number, number][] {
  return Array.from({ length: parts }, (_, p) => [Math.floor((256 * p) / parts), Math.floor((256 * (p + 1)) / parts)]);
}

/** The tiles in up to `parts` consecutive runs of about equal selected rows. */
export function tileRanges(tileCounts: Int32Array, tiles: number, parts: number): [number, number][] {
  let total = 0;
  for (let t = 0; t < tiles; t++) total += tileCounts[t];
  const ranges: [number, number][] = [];
  let first = 0;
  let taken = 0;
  for (let t = 0; t < tiles && ranges.length < parts - 1; t++) {
    taken += tileCounts[t];
    if (taken >= (total * (ranges.length + 1)) / parts) {
      ranges.push([first, t + 1]);
      first = t + 1;
    }
  }
  if (first < tiles || ranges.length === 0) ranges.push([first, tiles]);
  return ranges;
}
