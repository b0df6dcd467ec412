import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { Selection } from '../src/pipelines/selection';
import { loadConfig } from '../src/config/app-config';
import { dataSourceOptions } from '../src/database/data-source-options';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistogramCache } from '../src/histograms/histogram-cache';
import { TILE_ROWS } from '../src/histograms/histogram-store';
import { LocalStorageDriver } from '../src/storage/local-storage.driver';
import { createSuiteDatabase } from './utils/suite-database';
import { testEnv } from './utils/test-app';

interface Row {
  imageId: number;
  userId: number;
  bins: number[];
}

const everyHistogram: Selection = {
  limit: null,
  since: null,
  imageType: 'histogram',
  userId: null,
  status: null,
  lane: null,
  afterId: null,
  include: [],
};

/**
 * The worker's in-memory copy of the histograms, against the database itself: whatever happened
 * to the tables since the copy was made, a job must see exactly the rows its selection picks now.
 */
describe('the histogram cache', () => {
  let database: { url: string; drop(): Promise<void> };
  let dataSource: DataSource;
  let db: Client;
  let users: number[];

  beforeAll(async () => {
    database = await createSuiteDatabase('histogram_cache');
    dataSource = await new DataSource(dataSourceOptions(database.url)).initialize();
    db = new Client({ connectionString: database.url });
    await db.connect();
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO users (username, email, encrypted_password)
       SELECT 'cache' || g, 'cache' || g || '@example.com', 'not-a-password-hash' FROM generate_series(1, 3) g RETURNING id`,
    );
    users = rows.map((row) => row.id);
  });

  afterEach(() => db.query('DELETE FROM images'));

  afterAll(async () => {
    await db?.end();
    await dataSource?.destroy();
    await database?.drop();
  });

  const cacheOf = (megabytes: string) =>
    new HistogramCache(
      dataSource,
      loadConfig(testEnv({ DATABASE_URL: database.url, HISTOGRAM_CACHE_MB: megabytes })),
      new LocalStorageDriver(mkdtempSync(join(tmpdir(), 'darkroom-histogram-cache-'))),
    );

  /** Adds `count` histogram images of `userId`, with random bins; returns their image ids. */
  const addHistograms = async (userId: number, count: number): Promise<number[]> => {
    const { rows } = await db.query<{ image_id: number }>(
      `WITH made AS (
         INSERT INTO images (status, user_id, image_type_id)
         SELECT 'processed', $1, (SELECT id FROM image_types WHERE type_name = 'histogram') FROM generate_series(1, $2)
         RETURNING id)
       INSERT INTO histograms (image_id, bins)
       SELECT id, ARRAY(SELECT (random() * 100000)::int + id * 0 FROM generate_series(1, 256)) FROM made RETURNING image_id`,
      [userId, count],
    );
    return rows.map((row) => row.image_id);
  };

  /** What the cache hands a job for `selection`, row by row. */
  const read = (cache: HistogramCache, selection: Selection): Promise<Row[]> =>
    cache.withSelected(selection, async ({ count, tiles, mask }) => {
      const rows: Row[] = [];
      tiles.forEach((tile, t) => {
        const values = tile.narrow ?? tile.wide!;
        for (let row = 0; row < tile.count; row++) {
          if (!mask[t * TILE_ROWS + row]) continue;
          rows.push({
            imageId: tile.imageIds[row],
            userId: tile.userIds[row],
            bins: Array.from({ length: 256 }, (_, bin) => values[bin * TILE_ROWS + row]),
          });
        }
      });
      expect(rows).toHaveLength(count);
      return rows.sort((a, b) => a.imageId - b.imageId);
    });

  /** What the database holds for `selection`, straight from SQL. */
  const truth = async (selection: Selection): Promise<Row[]> => {
    const { rows } = await db.query<{ image_id: number; user_id: number; bins: number[] }>(
      `SELECT h.image_id, i.user_id, h.bins
         FROM histograms h JOIN images i ON i.id = h.image_id JOIN image_types t ON t.id = i.image_type_id
        WHERE t.type_name = 'histogram' AND ($1::int IS NULL OR i.user_id = $1)
        ORDER BY i.created_at DESC, i.id DESC LIMIT $2`,
      [selection.userId, selection.limit],
    );
    return rows.map((row) => ({ imageId: row.image_id, userId: row.user_id, bins: row.bins })).sort((a, b) => a.imageId - b.imageId);
  };

  it('gives exactly what the database holds after inserts, a late commit, a deletion and a change of owner', async () => {
    const cache = cacheOf('64');
    await addHistograms(users[0], 20);
    await addHistograms(users[1], 15);
    expect(await read(cache, everyHistogram)).toEqual(await truth(everyHistogram));
    expect(cache.size).toBe(35);

    // An image made before the cache's last refresh whose histogram is committed after it.
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO images (status, user_id, image_type_id) VALUES ('processed', $1, (SELECT id FROM image_types WHERE type_name = 'histogram')) RETURNING id`,
      [users[2]],
    );
    const late = rows[0].id;
    await addHistograms(users[2], 3);
    expect(await read(cache, everyHistogram)).toEqual(await truth(everyHistogram));
    await db.query(`INSERT INTO histograms (image_id, bins) SELECT $1, ARRAY(SELECT 7 FROM generate_series(1, 256))`, [late]);
    const withLate = await read(cache, everyHistogram);
    expect(withLate.map((row) => row.imageId)).toContain(late);
    expect(withLate).toEqual(await truth(everyHistogram));

    const [gone] = await addHistograms(users[0], 1);
    await read(cache, everyHistogram);
    await db.query('DELETE FROM images WHERE id = $1', [gone]);
    await db.query('UPDATE images SET user_id = $1 WHERE id = (SELECT min(image_id) FROM histograms)', [users[2]]);
    expect(await read(cache, everyHistogram)).toEqual(await truth(everyHistogram));

    const newestOfOne: Selection = { ...everyHistogram, limit: 4, userId: users[1] };
    expect(await read(cache, newestOfOne)).toEqual(await truth(newestOfOne));
    expect(await read(cache, { ...everyHistogram, imageType: 'grayscale' })).toEqual([]);
  });

  it('sees histograms committed while a transaction open all along holds the xmin back', async () => {
    const cache = cacheOf('64');
    const holder = new Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_current_xact_id()');
      await addHistograms(users[0], 5);
      expect(await read(cache, everyHistogram)).toEqual(await truth(everyHistogram));
      await addHistograms(users[1], 4);
      const [late] = await addHistograms(users[2], 1);
      const rows = await read(cache, everyHistogram);
      expect(rows.map((row) => row.imageId)).toContain(late);
      expect(rows).toEqual(await truth(everyHistogram));
      expect(cache.size).toBe(10);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('compacts its live rows when dead ones would take it past HISTOGRAM_CACHE_MB', async () => {
    const cache = cacheOf('2');
    const first = await addHistograms(users[0], 1000);
    await read(cache, everyHistogram);
    expect(cache.size).toBe(1000);
    await db.query('DELETE FROM images WHERE id = ANY($1)', [first.slice(0, 600)]);
    await addHistograms(users[1], 300);
    expect(await read(cache, everyHistogram)).toEqual(await truth(everyHistogram));
    expect(cache.size).toBe(700);
  });

  it('reads from the database each time once the histograms outgrow HISTOGRAM_CACHE_MB, or when it is 0', async () => {
    await addHistograms(users[0], 1100);
    const small = cacheOf('1');
    expect(await read(small, everyHistogram)).toEqual(await truth(everyHistogram));
    expect(small.size).toBe(0);
    const none = cacheOf('0');
    const newest: Selection = { ...everyHistogram, limit: 10 };
    expect(await read(none, newest)).toEqual(await truth(newest));
    expect(none.size).toBe(0);
  });
});
