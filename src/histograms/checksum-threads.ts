import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// CRC-32 (zlib's, as node:zlib computes it) of several arrays in turn, in a thread.
const PROGRAM = `
const { parentPort } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
parentPort.on('message', ({ id, arrays }) => {
  let crc = 0;
  for (const array of arrays) crc = crc32(array, crc);
  parentPort.postMessage({ id, crc });
});
`;

/**
 * Threads that checksum arrays in shared memory where they lie, while the caller goes on: a
 * snapshot's tiles are checked as they arrive, off the thread that reads them. Lives for one load.
 */
export class ChecksumThreads {
  private readonly threads: Worker[];
  private readonly pending = new Map<number, { resolve: (crc: number) => void; reject: (error: Error) => void }>();
  private next = 0;

  constructor(size = Math.max(1, Math.min(availableParallelism(), 4))) {
    this.threads = Array.from({ length: size }, () => {
      const thread = new Worker(PROGRAM, { eval: true });
      thread.on('message', ({ id, crc }: { id: number; crc: number }) => {
        this.pending.get(id)?.resolve(crc);
        this.pending.delete(id);
      });
      thread.on('error', (error) => this.failAll(error));
      return thread;
    });
  }

  /** The CRC-32 of `arrays` (views of shared memory) one after another. */
  crc(arrays: ArrayBufferView[]): Promise<number> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.threads[id % this.threads.length].postMessage({ id, arrays });
    });
  }

  async close(): Promise<void> {
    this.failAll(new Error('The checksum threads were closed'));
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }

  private failAll(error: Error): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}
