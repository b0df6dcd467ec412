import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { Selection } from '../pipelines/selection';
import { AppConfig } from '../config/app-config';
import { BLOCK_ROWS, HistogramBlockPool, newHistogramBlock } from './histogram-block-pool';
import {
  copyRows,
  HistogramBlock,
  HistogramBlockWriter,
  histogramRowParser,
  imageConditions,
  readSelectedHistograms,
  ROW_BYTES,
  SelectedHistograms,
  selectionFilters,
} from './histogram-reader';

const REFRESH_MILLISECONDS = 2000;

/** The cached rows a selection picks, by slot, each with its owner. */
class Picked {
  count = 0;
  readonly taken: Uint8Array;
  readonly userOfSlot: Int32Array;

  constructor(slots: number) {
    this.taken = new Uint8Array(slots);
    this.userOfSlot = new Int32Array(slots);
  }

  take(slot: number, userId: number): void {
    if (slot < 0) throw new Error('A selected histogram could not be read into the cache');
    if (this.taken[slot]) return;
    this.taken[slot] = 1;
    this.userOfSlot[slot] = userId;
    this.count++;
  }
}

/**
 * The bins of every histogram, in the worker's memory: reading a million of them from PostgreSQL
 * takes seconds (more when the machine has let the table fall out of its page cache), while
 * picking them out of memory takes milliseconds. Histograms never change once written, so the
 * copy grows by the new ones alone, every few seconds and at the start of every job.
 *
 * Exactness does not rest on the copy being current: each job asks the database, in one
 * snapshot, which histograms exist and which images its selection picks (and whose they are
 * now), fetches any histogram the copy lacks, and takes the bins of exactly those. Rows of deleted histograms stay until the copy is rebuilt,
 * but no selection names them. When the histograms outgrow HISTOGRAM_CACHE_MB, jobs read their
 * selection from the database each time instead.
 */
@Injectable()
export class HistogramCache implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HistogramCache.name);
  private readonly capacity: number;
  private readonly blocks: HistogramBlock[] = [];
  /** Each image's histogram's slot plus one, by image id (0: not cached). Image ids are dense enough: 4 bytes an id. */
  private slotPlusOne = new Int32Array(0);
  private rows = 0;
  /** The highest image id the refreshes have loaded: newer histograms are what the next one loads. */
  private watermark = 0;
  private overCapacity = false;
  private readonly pool = new HistogramBlockPool();
  private turn: Promise<unknown> = Promise.resolve();
  private refreshTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {
    this.capacity = Math.floor((config.HISTOGRAM_CACHE_MB * 1024 * 1024) / ROW_BYTES);
  }

  onApplicationBootstrap(): void {
    this.scheduleRefresh(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    await this.turn;
  }

  /** How many histograms the copy holds, deleted ones included. */
  get size(): number {
    return this.rows;
  }

  /**
   * Runs `reduce` over the histograms `selection` picks, as the database held them when the read
   * began. Jobs take turns: each uses every core for its arithmetic, and the blocks they reduce
   * must not be rebuilt under them.
   */
  withSelected<T>(selection: Selection, reduce: (selected: SelectedHistograms) => Promise<T>): Promise<T> {
    return this.exclusively(async () => {
      const { selected, pooled } = await this.inSnapshot((client) => this.select(client, selection));
      try {
        return await reduce(selected);
      } finally {
        if (pooled) this.pool.release(selected.blocks);
      }
    });
  }

  private async select(client: PoolClient, selection: Selection): Promise<{ selected: SelectedHistograms; pooled: boolean }> {
    if (!(await this.refresh(client))) return { selected: await readSelectedHistograms(client, selection, this.pool), pooled: true };
    const picked = selection.limit === null ? await this.pickAll(client, selection) : await this.pickNewest(client, selection);
    return { selected: this.view(picked), pooled: false };
  }

  /**
   * Every histogram a selection without a limit picks: the images it picks (with their owners
   * now) that have a histogram now. The two lists are read apart, which PostgreSQL does in half
   * the time of a join over a million rows, and matched here.
   */
  private async pickAll(client: PoolClient, selection: Selection): Promise<Picked> {
    const histogramImages = await packedIntegers(client, 'SELECT int4send(image_id) AS packed FROM histograms');
    await this.loadMissing(client, histogramImages, 1);
    const hasHistogram = new Uint8Array(this.rows);
    for (let i = 0; i < histogramImages.length; i++) {
      const slot = this.slotOf(histogramImages[i]);
      if (slot < 0) throw new Error(`The histogram of image ${histogramImages[i]} could not be read into the cache`);
      hasHistogram[slot] = 1;
    }
    const images = await packedIntegers(
      client,
      `SELECT int4send(i.id) || int4send(i.user_id) AS packed FROM images i WHERE ${imageConditions(client, selection)}`,
    );
    const picked = new Picked(this.rows);
    for (let i = 0; i < images.length; i += 2) {
      const slot = this.slotOf(images[i]);
      if (slot >= 0 && hasHistogram[slot]) picked.take(slot, images[i + 1]);
    }
    return picked;
  }

  /** The newest n histograms a selection picks, which PostgreSQL finds through its indexes. */
  private async pickNewest(client: PoolClient, selection: Selection): Promise<Picked> {
    const pairs = await packedIntegers(
      client,
      `SELECT int4send(h.image_id) || int4send(i.user_id) AS packed ${selectionFilters(client, selection)}
        ORDER BY i.created_at DESC, i.id DESC LIMIT ${Number(selection.limit)}`,
    );
    await this.loadMissing(client, pairs, 2);
    const picked = new Picked(this.rows);
    for (let i = 0; i < pairs.length; i += 2) picked.take(this.slotOf(pairs[i]), pairs[i + 1]);
    return picked;
  }

  /**
   * Loads the histograms of the images (every `stride`-th of `imageIds`) that the copy lacks:
   * histograms committed after a refresh under ids below its watermark, because their
   * transactions began earlier, are picked up here.
   */
  private async loadMissing(client: PoolClient, imageIds: Int32Array, stride: number): Promise<void> {
    const missing: number[] = [];
    for (let i = 0; i < imageIds.length; i += stride) if (this.slotOf(imageIds[i]) < 0) missing.push(imageIds[i]);
    if (missing.length > 0)
      await this.load(client, `SELECT image_id, bins_packed FROM histograms WHERE image_id = ANY('{${missing.join(',')}}'::int[])`);
  }

  private slotOf(imageId: number): number {
    return imageId >= 0 && imageId < this.slotPlusOne.length ? this.slotPlusOne[imageId] - 1 : -1;
  }

  /** Loads the histograms added since the last refresh; false when they do not all fit. */
  private async refresh(client: PoolClient): Promise<boolean> {
    if (this.capacity === 0 || this.overCapacity) return false;
    const incoming = await countHistograms(client, this.watermark);
    if (incoming === 0) return true;
    if (this.rows + incoming > this.capacity) {
      // The copy still holds the rows of deleted histograms: start afresh before giving up.
      const live = this.watermark === 0 ? incoming : await countHistograms(client, 0);
      if (live > this.capacity) {
        this.giveUp(live);
        return false;
      }
      this.clear();
    }
    this.watermark = Math.max(
      this.watermark,
      await this.load(client, `SELECT image_id, bins_packed FROM histograms WHERE image_id > ${this.watermark}`),
    );
    return true;
  }

  /** Appends the rows of (image id, packed bins) `query` returns; returns the highest image id among them. */
  private async load(client: PoolClient, query: string): Promise<number> {
    const lastBlock =
      this.blocks.length > 0 && this.blocks[this.blocks.length - 1].count < BLOCK_ROWS ? this.blocks[this.blocks.length - 1] : null;
    const blocksBefore = this.blocks.length;
    const writer = new HistogramBlockWriter(() => {
      const block = newHistogramBlock();
      this.blocks.push(block);
      return block;
    }, lastBlock);
    try {
      await copyRows(client, query, histogramRowParser(writer, false));
      writer.seal();
    } catch (error) {
      this.blocks.length = blocksBefore;
      if (lastBlock) lastBlock.count = this.rows - (blocksBefore - 1) * BLOCK_ROWS;
      throw error;
    }
    let highest = 0;
    const total = this.blocks.length === 0 ? 0 : (this.blocks.length - 1) * BLOCK_ROWS + this.blocks[this.blocks.length - 1].count;
    for (let slot = this.rows; slot < total; slot++)
      highest = Math.max(highest, this.blocks[Math.floor(slot / BLOCK_ROWS)].imageIds[slot % BLOCK_ROWS]);
    if (highest >= this.slotPlusOne.length) {
      const larger = new Int32Array(Math.max(highest + 1, this.slotPlusOne.length * 2));
      larger.set(this.slotPlusOne);
      this.slotPlusOne = larger;
    }
    for (let slot = this.rows; slot < total; slot++) {
      const imageId = this.blocks[Math.floor(slot / BLOCK_ROWS)].imageIds[slot % BLOCK_ROWS];
      // Image ids come from a sequence; a row under a negative one is left out of the copy, and a
      // selection naming it is refused by the view.
      if (imageId >= 0 && this.slotPlusOne[imageId] === 0) this.slotPlusOne[imageId] = slot + 1;
    }
    this.rows = total;
    return highest;
  }

  /**
   * The picked histograms as blocks that several threads can reduce: each cached block with the
   * rows picked from it, in order, and their owners as the selection found them.
   */
  private view(picked: Picked): SelectedHistograms {
    const blocks: HistogramBlock[] = [];
    this.blocks.forEach((block, b) => {
      const first = b * BLOCK_ROWS;
      let count = 0;
      for (let row = 0; row < block.count; row++) count += picked.taken[first + row];
      if (count === 0) return;
      const userIds = new Int32Array(new SharedArrayBuffer(count * 4));
      if (count === block.count) {
        userIds.set(picked.userOfSlot.subarray(first, first + count));
        blocks.push({ count, bins: block.bins, rows: null, imageIds: block.imageIds, userIds });
        return;
      }
      const rows = new Int32Array(new SharedArrayBuffer(count * 4));
      const imageIds = new Int32Array(new SharedArrayBuffer(count * 4));
      for (let row = 0, i = 0; row < block.count; row++) {
        if (!picked.taken[first + row]) continue;
        rows[i] = row;
        imageIds[i] = block.imageIds[row];
        userIds[i++] = picked.userOfSlot[first + row];
      }
      blocks.push({ count, bins: block.bins, rows, imageIds, userIds });
    });
    return { count: picked.count, blocks };
  }

  private giveUp(live: number): void {
    this.overCapacity = true;
    this.clear();
    this.logger.warn(
      `${live} histograms do not fit in HISTOGRAM_CACHE_MB (${this.config.HISTOGRAM_CACHE_MB} MB, ${this.capacity} histograms): ` +
        'aggregate jobs will read their selection from the database each time',
    );
  }

  private clear(): void {
    this.blocks.length = 0;
    this.slotPlusOne = new Int32Array(0);
    this.rows = 0;
    this.watermark = 0;
  }

  private scheduleRefresh(delay: number): void {
    if (this.stopped || this.capacity === 0 || this.overCapacity) return;
    this.refreshTimer = setTimeout(() => {
      this.exclusively(() => this.inSnapshot((client) => this.refresh(client)))
        .catch((error: Error) => this.logger.warn(`Could not refresh the histogram cache: ${error.message}`))
        .finally(() => this.scheduleRefresh(REFRESH_MILLISECONDS));
    }, delay);
    this.refreshTimer.unref();
  }

  private exclusively<T>(task: () => Promise<T>): Promise<T> {
    const run = this.turn.then(task);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Runs `work` in one read-only snapshot, so that every statement sees the same histograms. */
  private async inSnapshot<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }
}

/**
 * The int4s `query` packs into its `packed` column, gathered by the server into one bytea: an
 * aggregate PostgreSQL computes with parallel workers, where a COPY of a million rows runs on one.
 */
async function packedIntegers(client: PoolClient, query: string): Promise<Int32Array> {
  // In binary results the bytea comes as its bytes, not as twice as much hex text to decode.
  const aggregate = { text: `SELECT string_agg(packed, ''::bytea) AS packed FROM (${query}) rows`, binary: true };
  const { rows } = await client.query<{ packed: Buffer | null }>(aggregate);
  const packed = rows[0].packed ?? Buffer.alloc(0);
  const integers = new Int32Array(packed.length / 4);
  for (let i = 0; i < integers.length; i++) integers[i] = packed.readInt32BE(i * 4);
  return integers;
}

async function countHistograms(client: PoolClient, aboveImageId: number): Promise<number> {
  const { rows } = await client.query<{ count: number }>('SELECT count(*)::int AS count FROM histograms WHERE image_id > $1', [
    aboveImageId,
  ]);
  return rows[0].count;
}
