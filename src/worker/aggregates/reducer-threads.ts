import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HistogramBlock, SelectedHistograms } from '../../histograms/histogram-reader';
import { medianOfBins, type NearestCandidate, nearestUsers, sumOfBins } from './histogram-reducers';

const REDUCERS = { medianOfBins, sumOfBins, nearestUsers };
type Reducers = typeof REDUCERS;

// The thread's program is the reducers' own compiled source, so it runs the same code as the
// unit tests check, from ts-jest and from dist alike, with no separate entry file to build.
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
${Object.values(REDUCERS)
  .map((reducer) => reducer.toString())
  .join('\n')}
const reducers = { ${Object.keys(REDUCERS).join(', ')} };
parentPort.postMessage(reducers[workerData.name](...workerData.args));
`;

// Starting a thread costs tens of milliseconds: small selections are reduced by one. Each median
// thread gathers 16 columns at a time (64 MB at a million histograms), so their number is capped.
const ROWS_PER_THREAD = 100_000;
const MAX_THREADS = 4;

export interface Neighbor {
  user_id: number;
  image_id: number;
  distance: number;
}

/*
 * The reductions of query and search jobs, shared between worker threads: a median over a
 * million histograms takes seconds of arithmetic, which must not stall the event loop where
 * BullMQ renews the job's lock, and which two cores do in about half the time. The blocks are in
 * shared memory, so the threads read them where they lie.
 */

export async function medianInThreads({ count, blocks }: SelectedHistograms, threads = threadsFor(count)): Promise<number[]> {
  // Each thread takes a run of bins, in whole groups of 16 (see medianOfBins).
  const groupsPerThread = Math.ceil(16 / threads);
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const firstBin = Math.min(256, t * groupsPerThread * 16);
      return runReducer('medianOfBins', [blocks, firstBin, Math.min(256, firstBin + groupsPerThread * 16)]);
    }),
  );
  return parts.flat();
}

export async function meanInThreads({ count, blocks }: SelectedHistograms, threads = threadsFor(count)): Promise<number[]> {
  const parts = await Promise.all(shares(blocks, threads).map((share) => runReducer('sumOfBins', [share])));
  return Array.from({ length: 256 }, (_, bin) => parts.reduce((sum, part) => sum + part[bin], 0) / count);
}

export async function nearestInThreads(
  { count, blocks }: SelectedHistograms,
  target: number[],
  excludeUserId: number,
  k: number,
  threads = threadsFor(count),
): Promise<Neighbor[]> {
  const parts = await Promise.all(shares(blocks, threads).map((share) => runReducer('nearestUsers', [share, target, excludeUserId, k])));
  return mergeNearest(parts, k);
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

function threadsFor(count: number): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_THREADS, Math.ceil(count / ROWS_PER_THREAD)));
}

/** The blocks dealt into `threads` shares of about equal rows, fullest blocks first. */
function shares(blocks: HistogramBlock[], threads: number): HistogramBlock[][] {
  const dealt = Array.from({ length: threads }, () => ({ rows: 0, blocks: [] as HistogramBlock[] }));
  for (const block of [...blocks].sort((a, b) => b.count - a.count)) {
    const lightest = dealt.reduce((least, share) => (share.rows < least.rows ? share : least));
    lightest.blocks.push(block);
    lightest.rows += block.count;
  }
  return dealt.map((share) => share.blocks);
}

function runReducer<Name extends keyof Reducers>(name: Name, args: Parameters<Reducers[Name]>): Promise<ReturnType<Reducers[Name]>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(PROGRAM, { eval: true, workerData: { name, args } });
    worker.once('message', (result: ReturnType<Reducers[Name]>) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`The reducer thread exited with code ${code}`)));
  });
}
