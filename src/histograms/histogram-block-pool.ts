import type { HistogramBlock } from './histogram-reader';

/** Rows per block: 16 MB of bins. */
export const BLOCK_ROWS = 16384;

/** A block of BLOCK_ROWS rows in shared memory, holding none yet. */
export function newHistogramBlock(): HistogramBlock {
  return {
    count: 0,
    bins: new Int32Array(new SharedArrayBuffer(BLOCK_ROWS * 256 * 4)),
    rows: null,
    imageIds: new Int32Array(new SharedArrayBuffer(BLOCK_ROWS * 4)),
    userIds: new Int32Array(new SharedArrayBuffer(BLOCK_ROWS * 4)),
  };
}

/**
 * Blocks of histograms in shared memory, kept from one aggregate job to the next. A fresh
 * gigabyte costs this machine over a second in page faults and forces collections of the whole
 * heap on its way in; a reused one costs neither. Blocks no job has wanted for a while are let go.
 */
export class HistogramBlockPool {
  private free: HistogramBlock[] = [];
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly keepIdleMilliseconds = 60_000) {}

  acquire(): HistogramBlock {
    const block = this.free.pop() ?? newHistogramBlock();
    block.count = 0;
    return block;
  }

  release(blocks: HistogramBlock[]): void {
    this.free.push(...blocks);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.free = [];
      this.idleTimer = null;
    }, this.keepIdleMilliseconds);
    this.idleTimer.unref();
  }

  /** How many blocks wait to be reused. */
  get idle(): number {
    return this.free.length;
  }
}
