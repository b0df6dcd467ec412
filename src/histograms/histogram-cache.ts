import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { AdvisoryLock, whileHolding } from '../database/advisory-locks';
import { Selection } from '../pipelines/selection';
import { newStorageKey } from '../pipelines/storage-key';
import { StorageDriver } from '../storage/storage.driver';
import { copyHistogramsInto, readSelectedHistograms } from './histogram-reader';
import { readSnapshot, snapshotStream } from './histogram-snapshot-file';
import { HistogramStore, SelectedHistograms, StoreFilter, TILE_ROWS, tileBytes } from './histogram-store';

const REFRESH_MILLISECONDS = 2000;
/** Snapshots kept: a worker may still be reading the one before the newest. */
const KEPT_SNAPSHOTS = 2;
const ALL_HISTOGRAMS = 'FROM histograms h JOIN images i ON i.id = h.image_id';

interface SnapshotRow {
  id: number;
  storage_key: string;
  horizon: string;
  histograms: number;
}

export interface CacheLoad {
  source: 'snapshot' | 'database';
  snapshotId: number | null;
}

/**
 * Every histogram in the worker's memory (HistogramStore: 16-bit tiles where counts allow, about
 * 540 bytes a histogram), so that a job picks its selection out of memory by the store's own
 * columns instead of reading rows from PostgreSQL.
 *
 * The store catches up from a change feed (the HistogramChangeFeed migration) at the start of every
 * job and every few seconds: the histograms written, or whose image changed owner, type or time,
 * in transactions at or above the xmin of the snapshot it last caught up in, and those deleted
 * there. So each job sees exactly the histograms its database snapshot holds.
 *
 * A worker starting loads the newest snapshot file from the installation's storage and catches up
 * from its horizon; with none (or an unreadable one) it reads every row, as exactly. Workers write
 * a new snapshot, one at a time, once HISTOGRAM_SNAPSHOT_CHANGES histograms changed since the
 * newest. The files are caches: the database stays the truth.
 *
 * When the histograms outgrow HISTOGRAM_CACHE_MB, jobs read their selection from the database each time.
 */
@Injectable()
export class HistogramCache implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HistogramCache.name);
  private readonly capacityBytes: number;
  private store: HistogramStore | null = null;
  /** The xmin of the database snapshot the store last caught up in (a bigint, as text). */
  private horizon: string | null = null;
  private overCapacity = false;
  private turn: Promise<unknown> = Promise.resolve();
  private refreshTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** How the store was last filled whole. */
  lastLoad: CacheLoad | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly storage: StorageDriver,
  ) {
    this.capacityBytes = config.HISTOGRAM_CACHE_MB * 1024 * 1024;
  }

  onApplicationBootstrap(): void {
    this.scheduleRefresh(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    await this.turn;
  }

  /** How many histograms the store holds. */
  get size(): number {
    return this.store?.live ?? 0;
  }

  /**
   * Runs `reduce` over the histograms `selection` picks, as the database held them when the read
   * began. Jobs take turns: each uses every core for its arithmetic, and the store must not change
   * under them.
   */
  withSelected<T>(selection: Selection, reduce: (selected: SelectedHistograms) => Promise<T>): Promise<T> {
    return this.exclusively(async () => {
      const selected = await this.inSnapshot(async (client) =>
        (await this.catchUp(client)) ? this.store!.select(await filterOf(client, selection)) : readSelectedHistograms(client, selection),
      );
      return reduce(selected);
    });
  }

  /** Brings the store up to the database's snapshot; false when the worker keeps no store. */
  private async catchUp(client: PoolClient): Promise<boolean> {
    if (this.capacityBytes === 0 || this.overCapacity) return false;
    const [now] = (
      await client.query<{ horizon: string; oldest_kept: string | null }>(
        `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon, (SELECT min(horizon)::text FROM histogram_snapshots WHERE complete) AS oldest_kept`,
      )
    ).rows;
    // The deletions below every kept snapshot's horizon are pruned: a store older than that reloads.
    let loaded: 'snapshot' | 'database' | false | null = null;
    if (this.store === null || (now.oldest_kept !== null && BigInt(this.horizon!) < BigInt(now.oldest_kept))) {
      this.store = null;
      loaded = await this.load(client, now.horizon);
      if (loaded === false) return false;
    }
    // Read even when the xmin has not moved: a transaction open all along holds it back while
    // others commit histograms above it.
    if (loaded !== 'database') {
      const deleted = await client.query<{ histogram_id: number }>('SELECT histogram_id FROM histogram_deletions WHERE xid >= $1', [
        this.horizon,
      ]);
      for (const { histogram_id } of deleted.rows) this.store!.remove(histogram_id);
      await copyHistogramsInto(client, `${ALL_HISTOGRAMS} WHERE h.changed_xid >= ${BigInt(this.horizon!)}`, this.store!);
      this.horizon = now.horizon;
    }
    // Deleted and replaced histograms leave dead slots: past a quarter of them, or of the memory
    // allowed, the live rows move together.
    let store = this.store!;
    if (store.slots - store.live > Math.max(TILE_ROWS, store.slots / 4) || store.bytes > this.capacityBytes) {
      store = this.store = store.compacted();
    }
    if (store.bytes > this.capacityBytes) {
      this.giveUp(store.live);
      return false;
    }
    return true;
  }

  /**
   * Fills the store whole: from the newest snapshot when one is readable (to be caught up from its
   * horizon), else from every row; false when they would not fit.
   */
  private async load(client: PoolClient, horizonNow: string): Promise<'snapshot' | 'database' | false> {
    const [{ count }] = (await client.query<{ count: number }>('SELECT count(*)::int AS count FROM histograms')).rows;
    if (Math.ceil(count / TILE_ROWS) * tileBytes({ wide: null }) > this.capacityBytes) {
      this.giveUp(count);
      return false;
    }
    const [newest] = (
      await client.query<SnapshotRow>(
        'SELECT id, storage_key, horizon::text AS horizon, histograms FROM histogram_snapshots WHERE complete ORDER BY id DESC LIMIT 1',
      )
    ).rows;
    if (newest) {
      try {
        const started = performance.now();
        this.store = await readSnapshot(await this.storage.get(newest.storage_key), newest.histograms);
        this.horizon = newest.horizon;
        this.lastLoad = { source: 'snapshot', snapshotId: newest.id };
        this.logger.log(
          `Loaded ${newest.histograms} histograms from snapshot ${newest.id} in ${Math.round(performance.now() - started)} ms`,
        );
        return 'snapshot';
      } catch (error) {
        this.logger.warn(`Could not load histogram snapshot ${newest.id} (${(error as Error).message}); reading every histogram instead`);
      }
    }
    const store = new HistogramStore();
    await copyHistogramsInto(client, ALL_HISTOGRAMS, store);
    this.store = store;
    this.horizon = horizonNow;
    this.lastLoad = { source: 'database', snapshotId: null };
    return 'database';
  }

  /** Writes a snapshot of the store if enough changed since the newest, and no other worker is writing one. */
  private async snapshotIfStale(): Promise<void> {
    const store = this.store;
    const horizon = this.horizon;
    if (this.config.HISTOGRAM_SNAPSHOT_CHANGES === 0 || store === null || horizon === null || !(await this.isStale(horizon, store))) return;
    await whileHolding(this.dataSource, AdvisoryLock.HistogramSnapshot, async () => {
      await this.deleteAbandonedSnapshots();
      if (!(await this.isStale(horizon, store))) return;
      const started = performance.now();
      const key = newStorageKey('histogram-snapshots', 'bin');
      const snapshot = snapshotStream(store);
      // The row before the file: a writer that dies while writing leaves a row naming its file.
      const [{ id }] = await this.dataSource.query<{ id: number }[]>(
        'INSERT INTO histogram_snapshots (storage_key, horizon, histograms, bytes) VALUES ($1, $2, 0, 0) RETURNING id',
        [key, horizon],
      );
      await this.storage.put(key, snapshot.stream, 'application/octet-stream');
      const dropped = await this.dataSource.transaction(async (manager) => {
        await manager.query('UPDATE histogram_snapshots SET complete = true, histograms = $2, bytes = $3 WHERE id = $1', [
          id,
          snapshot.histograms(),
          snapshot.bytes(),
        ]);
        const old = (await manager.query(
          `DELETE FROM histogram_snapshots
            WHERE complete AND id NOT IN (SELECT id FROM histogram_snapshots WHERE complete ORDER BY id DESC LIMIT ${KEPT_SNAPSHOTS})
           RETURNING storage_key`,
        )) as [{ storage_key: string }[], number];
        await manager.query('DELETE FROM histogram_deletions WHERE xid < (SELECT min(horizon) FROM histogram_snapshots WHERE complete)');
        return old[0].map((row) => row.storage_key);
      });
      for (const oldKey of dropped) await this.storage.delete(oldKey);
      this.logger.log(
        `Wrote a snapshot of ${snapshot.histograms()} histograms (${Math.round(snapshot.bytes() / 1048576)} MB) in ${Math.round(performance.now() - started)} ms`,
      );
    });
  }

  /**
   * Deletes the files of snapshots whose writing never ended (the worker died, or storage failed),
   * and their rows. Called under the snapshot lock, so no such write is still going on.
   */
  private async deleteAbandonedSnapshots(): Promise<void> {
    const abandoned = await this.dataSource.query<{ id: number; storage_key: string }[]>(
      'SELECT id, storage_key FROM histogram_snapshots WHERE NOT complete',
    );
    for (const { id, storage_key } of abandoned) {
      await this.storage.delete(storage_key);
      await this.dataSource.query('DELETE FROM histogram_snapshots WHERE id = $1', [id]);
      this.logger.warn(`Deleted snapshot ${id}, which a worker began writing and never finished`);
    }
  }

  /** Whether the newest snapshot lags `horizon` by HISTOGRAM_SNAPSHOT_CHANGES changes, or there is none and there are histograms. */
  private async isStale(horizon: string, store: HistogramStore): Promise<boolean> {
    const [newest] = await this.dataSource.query<{ horizon: string }[]>(
      'SELECT horizon::text AS horizon FROM histogram_snapshots WHERE complete ORDER BY id DESC LIMIT 1',
    );
    if (!newest) return store.live > 0;
    if (BigInt(newest.horizon) >= BigInt(horizon)) return false;
    const [{ changes }] = await this.dataSource.query<{ changes: number }[]>(
      `SELECT (SELECT count(*) FROM histograms WHERE changed_xid >= $1) + (SELECT count(*) FROM histogram_deletions WHERE xid >= $1) AS changes`,
      [newest.horizon],
    );
    return Number(changes) >= this.config.HISTOGRAM_SNAPSHOT_CHANGES;
  }

  private giveUp(live: number): void {
    this.overCapacity = true;
    this.store = null;
    this.horizon = null;
    this.logger.warn(
      `${live} histograms do not fit in HISTOGRAM_CACHE_MB (${this.config.HISTOGRAM_CACHE_MB} MB): ` +
        'aggregate jobs will read their selection from the database each time',
    );
  }

  private scheduleRefresh(delay: number): void {
    if (this.stopped || this.capacityBytes === 0 || this.overCapacity) return;
    this.refreshTimer = setTimeout(() => {
      this.exclusively(async () => {
        await this.inSnapshot((client) => this.catchUp(client));
        if (!this.stopped) await this.snapshotIfStale();
      })
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
      // A store half caught up is of no known horizon: the next job loads it afresh.
      this.store = null;
      throw error;
    } finally {
      await runner.release();
    }
  }
}

/** A selection's filters as the store's columns: the image type's id is read in the job's snapshot. */
async function filterOf(client: PoolClient, selection: Selection): Promise<StoreFilter> {
  let imageTypeId: number | null = null;
  if (selection.imageType !== null) {
    const { rows } = await client.query<{ id: number }>('SELECT id FROM image_types WHERE type_name = $1', [selection.imageType]);
    imageTypeId = rows[0]?.id ?? -1;
  }
  return {
    userId: selection.userId,
    imageTypeId,
    sinceMicros: selection.since === null ? null : selection.since.getTime() * 1000,
    limit: selection.limit,
  };
}
