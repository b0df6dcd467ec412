import { Worker } from 'node:worker_threads';
import type { HistogramBlock } from '../../histograms/histogram-reader';
import { meanOfBins, medianOfBins, nearestUsers } from './histogram-reducers';

const REDUCERS = { medianOfBins, meanOfBins, nearestUsers };
type Reducers = typeof REDUCERS;
type RestOf<F> = F extends (blocks: HistogramBlock[], ...rest: infer R) => unknown ? R : never;

// The thread's program is the reducers' own compiled source, so it runs the same code as the
// unit tests check, from ts-jest and from dist alike, with no separate entry file to build.
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
${Object.values(REDUCERS).map((reducer) => reducer.toString()).join('\n')}
const reducers = { ${Object.keys(REDUCERS).join(', ')} };
parentPort.postMessage(reducers[workerData.name](...workerData.args));
`;

/**
 * Runs a reducer in a worker thread: a median over a million histograms takes seconds of
 * arithmetic, which must not stall the event loop where BullMQ renews the job's lock. The blocks
 * are moved to the thread, not copied, and their gigabyte is freed the moment it ends, rather
 * than whenever the garbage collector gets to it.
 */
export function runReducer<Name extends keyof Reducers>(name: Name, blocks: HistogramBlock[], ...rest: RestOf<Reducers[Name]>): Promise<ReturnType<Reducers[Name]>> {
  const transfer = blocks.flatMap((block) => [block.bins.buffer, block.imageIds.buffer, block.userIds.buffer]) as ArrayBuffer[];
  return new Promise((resolve, reject) => {
    const worker = new Worker(PROGRAM, { eval: true, workerData: { name, args: [blocks, ...rest] }, transferList: transfer });
    worker.once('message', (result: ReturnType<Reducers[Name]>) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`The reducer thread exited with code ${code}`)));
  });
}
