import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { FunctionThreads } from '../../common/function-threads';
import type { SelectedHistograms } from '../../histograms/histogram-store';
import { medianOfBins, type NearestCandidate, nearestUsers, sumOfBins } from './histogram-reducers';

export interface Neighbor {
  user_id: number;
  image_id: number;
  distance: number;
}

/**
 * The reductions of query and search jobs, shared between threads that live as long as the
 * worker: a median over a million histograms is hundreds of millions of operations, which must
 * not stall the event loop where BullMQ renews the job's lock, and which two cores do in about
 * half the time. The tiles are in shared memory, so the threads read them where they lie. The
 * threads run the reducers' own source, which the unit tests check.
 */
@Injectable()
export class ReducerThreads implements OnModuleDestroy {
  private readonly pool = new FunctionThreads({ medianOfBins, sumOfBins, nearestUsers }, undefined, 'reducer thread');

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }

  async median(selected: SelectedHistograms): Promise<number[]> {
    const parts = await Promise.all(
      binRanges(this.pool.size).map(([first, end]) =>
        this.pool.run('medianOfBins', selected.tiles, selected.mask, selected.tileCounts, selected.count, first, end),
      ),
    );
    return parts.flat();
  }

  async mean(selected: SelectedHistograms): Promise<number[]> {
    const parts = await Promise.all(
      binRanges(this.pool.size).map(([first, end]) =>
        this.pool.run('sumOfBins', selected.tiles, selected.mask, selected.tileCounts, first, end),
      ),
    );
    return parts.flat().map((sum) => sum / selected.count);
  }

  async nearest(selected: SelectedHistograms, target: number[], excludeUserId: number, k: number): Promise<Neighbor[]> {
    const parts = await Promise.all(
      tileRanges(selected.tileCounts, selected.tiles.length, this.pool.size).map(([first, end]) =>
        this.pool.run('nearestUsers', selected.tiles, selected.mask, selected.tileCounts, first, end, target, excludeUserId, k),
      ),
    );
    return mergeNearest(parts, k);
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
