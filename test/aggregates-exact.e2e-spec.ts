import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { CacheLoad, HistogramCache } from '../src/histograms/histogram-cache';
import { newStorageKey } from '../src/pipelines/storage-key';
import { StorageDriver } from '../src/storage/storage.driver';
import { createAdmin, createImageType, createUser, TestUser, unique } from './utils/factories';
import { ManagedProcess, startNode, WORKER_MAIN } from './utils/faults/processes';
import { storageFor } from './utils/storages';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

/** The selection keys an aggregate job accepts, as a test passes them in `params`. */
interface Selection {
  n?: number;
  count?: number;
  days?: number;
  image_type?: string;
  user_id?: number;
}

interface HistogramRow {
  imageId: number;
  userId: number;
  bins: number[];
}

interface Neighbor {
  user_id: number;
  image_id: number;
  distance: number;
}

const MEDIAN = ['query', 'histogram', 'median'];
const SEARCH = ['search', 'histogram', 'nearest_neighbor'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** numpy.median(rows, axis=0): the middle value of each bin, or the mean of the two middle ones. */
function numpyMedian(rows: number[][]): number[] {
  return Array.from({ length: 256 }, (_, bin) => {
    const column = Float64Array.from(rows, (row) => row[bin]).sort();
    const half = column.length / 2;
    return Number.isInteger(half) ? (column[half - 1] + column[half]) / 2 : column[Math.floor(half)];
  });
}

/** Integer sums stay far below 2^53, so sum / count is the one correctly rounded mean. */
function exactMean(rows: number[][]): number[] {
  return Array.from({ length: 256 }, (_, bin) => rows.reduce((sum, row) => sum + row[bin], 0) / rows.length);
}

/**
 * By brute force: Euclidean distance between histograms scaled to sum 1, each user at their
 * closest histogram (the smaller image id on a tie), `excluded` left out, nearest first.
 */
function nearestUsers(rows: HistogramRow[], target: number[], excluded: number, k: number): Neighbor[] {
  const scaled = (bins: number[]) => {
    const total = bins.reduce((sum, value) => sum + value, 0);
    return bins.map((value) => value / total);
  };
  const goal = scaled(target);
  const closest = new Map<number, Neighbor>();
  for (const row of rows) {
    if (row.userId === excluded) continue;
    const distance = Math.hypot(...scaled(row.bins).map((value, bin) => value - goal[bin]));
    const held = closest.get(row.userId);
    if (!held || distance < held.distance || (distance === held.distance && row.imageId < held.image_id)) {
      closest.set(row.userId, { user_id: row.userId, image_id: row.imageId, distance });
    }
  }
  return [...closest.values()].sort((a, b) => a.distance - b.distance || a.image_id - b.image_id).slice(0, k);
}

/** What the database holds for `selection` now, newest first (created_at, then the larger id). */
async function selectedRows(db: Client, selection: Selection): Promise<HistogramRow[]> {
  const { rows } = await db.query<{ image_id: number; user_id: number; bins: number[] }>(
    `SELECT h.image_id, i.user_id, h.bins
       FROM histograms h JOIN images i ON i.id = h.image_id LEFT JOIN image_types t ON t.id = i.image_type_id
      WHERE ($1::text IS NULL OR t.type_name = $1)
        AND ($2::int IS NULL OR i.user_id = $2)
        AND ($3::int IS NULL OR i.created_at >= now() - make_interval(days => $3))
      ORDER BY i.created_at DESC, i.id DESC
      LIMIT $4`,
    [selection.image_type ?? null, selection.user_id ?? null, selection.days ?? null, selection.n ?? selection.count ?? null],
  );
  return rows.map((row) => ({ imageId: row.image_id, userId: row.user_id, bins: row.bins }));
}

async function binsOf(db: Client, imageId: number): Promise<number[]> {
  const { rows } = await db.query<{ bins: number[] }>('SELECT bins FROM histograms WHERE image_id = $1', [imageId]);
  if (rows.length !== 1) throw new Error(`Image ${imageId} has no histogram: a test deleted a search's target`);
  return rows[0].bins;
}

/**
 * Runs `changes` in one transaction and answers its transaction id: a snapshot whose horizon is
 * past it holds the changes.
 */
async function change(db: Client, changes: () => Promise<unknown>): Promise<string> {
  await db.query('BEGIN');
  try {
    await changes();
    const { rows } = await db.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
    await db.query('COMMIT');
    return rows[0].xid;
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

/**
 * Adds `count` histogram images of `userId` created in the last 20 hours. A third of the rows
 * have every bin up to 3,000,000 and a third a few bins above 65535 among small ones, so that a
 * store keeping small counts in 16 bits must keep those rows or tiles in 32.
 */
async function addHistograms(db: Client, userId: number, count: number): Promise<number[]> {
  const { rows } = await db.query<{ image_id: number }>(
    `WITH made AS (
       INSERT INTO images (status, user_id, image_type_id, created_at)
       SELECT 'processed', $1, (SELECT id FROM image_types WHERE type_name = 'histogram'), now() - random() * interval '20 hours'
         FROM generate_series(1, $2)
       RETURNING id)
     INSERT INTO histograms (image_id, bins)
     SELECT id, ARRAY(
       SELECT CASE
                WHEN made.id % 3 = 0 THEN (random() * 3000000)::int
                WHEN made.id % 3 = 1 AND random() < 0.05 THEN 65536 + (random() * 2934464)::int
                ELSE (random() * 65535)::int
              END
         FROM generate_series(1, 256))
       FROM made
     RETURNING image_id`,
    [userId, count],
  );
  return rows.map((row) => row.image_id);
}

/** Up to `count` random histogram images, none of them in `keep`. */
async function randomHistogramImages(db: Client, count: number, keep: number[]): Promise<number[]> {
  const { rows } = await db.query<{ image_id: number }>(
    'SELECT image_id FROM histograms WHERE image_id <> ALL($2::int[]) ORDER BY random() LIMIT $1',
    [count, keep],
  );
  return rows.map((row) => row.image_id);
}

const deleteImages = (db: Client, ids: number[]) => db.query('DELETE FROM images WHERE id = ANY($1::int[])', [ids]);
const giveImages = (db: Client, ids: number[], userId: number) =>
  db.query('UPDATE images SET user_id = $2 WHERE id = ANY($1::int[])', [ids, userId]);

/**
 * The id of the newest histogram snapshot holding transaction `xid`, once the worker has written
 * one (it does within seconds under HISTOGRAM_SNAPSHOT_CHANGES=1).
 */
async function snapshotAfter(db: Client, xid: string, timeoutMs = 30_000): Promise<number> {
  const { rows: table } = await db.query<{ present: boolean }>(`SELECT to_regclass('histogram_snapshots') IS NOT NULL AS present`);
  if (!table[0].present) {
    throw new Error('There is no table histogram_snapshots: this build writes no histogram snapshots, so there is none to wait for');
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ id: number }>(
      'SELECT id FROM histogram_snapshots WHERE complete AND horizon > $1::bigint ORDER BY id DESC LIMIT 1',
      [xid],
    );
    if (rows.length > 0) return rows[0].id;
    if (Date.now() > deadline) {
      const { rows: latest } = await db.query(
        'SELECT id, horizon::text, histograms, complete, created_at FROM histogram_snapshots ORDER BY id DESC LIMIT 1',
      );
      throw new Error(
        `No histogram snapshot past transaction ${xid} within ${timeoutMs} ms although HISTOGRAM_SNAPSHOT_CHANGES=1; ` +
          `the latest is ${JSON.stringify(latest[0] ?? null)}`,
      );
    }
    await sleep(200);
  }
}

async function latestSnapshotId(db: Client): Promise<number | null> {
  const { rows } = await db.query<{ id: number | null }>('SELECT max(id) AS id FROM histogram_snapshots WHERE complete');
  return rows[0].id;
}

/** The worker's report of how its histogram store filled itself, once it has. */
async function loadReportOf(worker: INestApplicationContext, timeoutMs = 30_000): Promise<CacheLoad> {
  const cache = worker.get(HistogramCache);
  const deadline = Date.now() + timeoutMs;
  while (cache.lastLoad == null) {
    if (Date.now() > deadline) {
      throw new Error(`The worker's HistogramCache.lastLoad is still ${String(cache.lastLoad)} ${timeoutMs} ms after its start`);
    }
    await sleep(100);
  }
  return cache.lastLoad;
}

/** A DATA_DIR of a worker's own, as on another machine; removed after the file's last test. */
const directories: string[] = [];
function ownDataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'darkroom-exact-worker-'));
  directories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** Creates and awaits aggregate jobs, and checks them against the database's rows. */
function aggregateChecks(appOf: () => NestExpressApplication, db: () => Client) {
  const run = async (user: TestUser, body: Record<string, unknown>) => {
    const created = await api(appOf()).post('/api/jobs.json').set(bearer(user.token)).send(body).expect(201);
    const job = await waitForJob(appOf(), user.token, created.body.id);
    if (job.status !== 'completed') throw new Error(`Job ${job.id} ${job.status}: ${JSON.stringify(job)}`);
    return job;
  };

  const expectMedian = async (user: TestUser, selection: Selection) => {
    const rows = await selectedRows(db(), selection);
    const job = await run(user, { job_sequence: MEDIAN, params: selection });
    expect(job.result).toEqual({ count: rows.length, median: numpyMedian(rows.map((row) => row.bins)) });
    return job.result;
  };

  const expectMean = async (user: TestUser, selection: Selection) => {
    const rows = await selectedRows(db(), selection);
    const job = await run(user, { job_sequence: ['query', 'histogram', 'mean'], params: selection });
    expect(job.result).toEqual({ count: rows.length, mean: exactMean(rows.map((row) => row.bins)) });
  };

  /**
   * A search by `requester` (on behalf of `owner` when given) from `target`, one of the owner's
   * images; `user` is who is left out, the owner unless given.
   */
  const expectNearest = async (
    requester: TestUser,
    search: { target: number; k?: number; user?: number; owner?: number } & Selection,
  ): Promise<Neighbor[]> => {
    const { target, k, user, owner, ...selection } = search;
    const rows = await selectedRows(db(), selection);
    const expected = nearestUsers(rows, await binsOf(db(), target), user ?? owner ?? requester.id, k ?? 10);
    const params = { target, ...selection, ...(k === undefined ? {} : { k }), ...(user === undefined ? {} : { user }) };
    const job = await run(requester, { job_sequence: SEARCH, params, user_id: owner });
    expect(job.result.count).toBe(rows.length);
    const neighbors: Neighbor[] = job.result.neighbors;
    expect(neighbors.map((n) => [n.user_id, n.image_id])).toEqual(expected.map((n) => [n.user_id, n.image_id]));
    neighbors.forEach((n, i) => expect(n.distance).toBeCloseTo(expected[i].distance, 12));
    return neighbors;
  };

  return { run, expectMedian, expectMean, expectNearest };
}

describe('query and search jobs stay exact against the database', () => {
  let env: TestEnv;
  let app: NestExpressApplication;
  let worker: INestApplicationContext | undefined;
  let db: Client;
  let admin: TestUser;
  let ada: TestUser;
  let bob: TestUser;
  let cy: TestUser;
  let dee: TestUser;
  let eve: TestUser;
  let otherType: string;
  /** The images that share the newest created_at, by descending id. */
  let tiedImages: number[];
  /** Search targets: each user's own, never deleted or given away. */
  let targets: Record<string, number>;
  /** The transaction of the latest change made by SQL. */
  let lastChange: string;

  const checks = aggregateChecks(
    () => app,
    () => db,
  );

  beforeAll(async () => {
    env = testEnv({ HISTOGRAM_SNAPSHOT_CHANGES: '1' });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    db = new Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    admin = await createAdmin(app);
    [ada, bob, cy, dee, eve] = [
      await createUser(app),
      await createUser(app),
      await createUser(app),
      await createUser(app),
      await createUser(app),
    ];
    otherType = (await createImageType(app, unique('scan'))).type_name;
    const made: Record<string, number[]> = {};
    lastChange = await change(db, async () => {
      for (const [user, count] of [
        [ada, 250],
        [bob, 300],
        [cy, 200],
        [dee, 150],
        [eve, 100],
      ] as const) {
        made[user.username] = await addHistograms(db, user.id, count);
      }
    });
    targets = Object.fromEntries(Object.entries(made).map(([username, ids]) => [username, ids[0]]));
    const keep = Object.values(targets);
    lastChange = await change(db, async () => {
      await db.query(`UPDATE images SET created_at = now() - interval '3 days' - random() * interval '1 day' WHERE id = ANY($1::int[])`, [
        await randomHistogramImages(db, 250, keep),
      ]);
      await db.query(
        `UPDATE images SET created_at = now() - interval '45 days' - random() * interval '10 days' WHERE id = ANY($1::int[])`,
        [await randomHistogramImages(db, 200, keep)],
      );
      await db.query(`UPDATE images SET image_type_id = (SELECT id FROM image_types WHERE type_name = $2) WHERE id = ANY($1::int[])`, [
        await randomHistogramImages(db, 150, keep),
        otherType,
      ]);
    });
    // A later transaction than every insert: its now() is the newest created_at, shared by all 40.
    lastChange = await change(db, async () => {
      const { rows } = await db.query<{ id: number }>(
        `UPDATE images SET created_at = now()
          WHERE id IN (SELECT h.image_id FROM histograms h JOIN images i ON i.id = h.image_id
                        WHERE i.created_at > now() - interval '1 day' AND i.id <> ALL($1::int[]) ORDER BY random() LIMIT 40)
          RETURNING id`,
        [keep],
      );
      tiedImages = rows.map((row) => row.id).sort((a, b) => b - a);
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await db?.end();
  });

  describe('filtered selections', () => {
    it('has data in which each filter picks a different, non-empty set', async () => {
      const count = async (selection: Selection) => (await selectedRows(db, selection)).length;
      const everything = await count({});
      expect(everything).toBe(1000);
      expect(await count({ days: 1 })).toBeGreaterThan(0);
      expect(await count({ days: 1 })).toBeLessThan(await count({ days: 30 }));
      expect(await count({ days: 30 })).toBeLessThan(everything);
      expect(await count({ image_type: otherType })).toBe(150);
      expect(await count({ image_type: 'histogram' })).toBe(everything - 150);
      expect(tiedImages).toHaveLength(40);
      // The reference breaks ties on created_at by the larger id, as the selection rule says.
      expect((await selectedRows(db, { n: 10 })).map((row) => row.imageId)).toEqual(tiedImages.slice(0, 10));
      expect((await selectedRows(db, { n: 55 })).map((row) => row.imageId).slice(0, 40)).toEqual(tiedImages);
    });

    const selections: [string, () => Selection][] = [
      ['every histogram', () => ({})],
      ['one user', () => ({ user_id: bob.id })],
      ['days=1', () => ({ days: 1 })],
      ['days=30', () => ({ days: 30 })],
      ['days=30 of one user', () => ({ days: 30, user_id: cy.id })],
      ['image_type=histogram', () => ({ image_type: 'histogram' })],
      ['another image type', () => ({ image_type: otherType })],
      ['the newest n=10, within images sharing one created_at', () => ({ n: 10 })],
      ['the newest n=25, within them', () => ({ n: 25 })],
      ['the newest n=55, past them', () => ({ n: 55 })],
      ['count=33 of image_type=histogram', () => ({ count: 33, image_type: 'histogram' })],
      ['the newest n=7 of one user within days=30', () => ({ n: 7, user_id: dee.id, days: 30 })],
      ['an even count', () => ({ n: 200 })],
    ];

    it.each(selections)('median of %s', async (_, selection) => {
      await checks.expectMedian(admin, selection());
    });

    it.each(selections)('mean of %s', async (_, selection) => {
      await checks.expectMean(admin, selection());
    });

    it('median with the selection in the environment form', async () => {
      const rows = await selectedRows(db, { n: 25, image_type: 'histogram' });
      const job = await checks.run(admin, { job_sequence: MEDIAN, environment: `QUERY='n=25&image_type=histogram'` });
      expect(job.result).toEqual({ count: 25, median: numpyMedian(rows.map((row) => row.bins)) });
    });

    it('completes an empty selection with count 0', async () => {
      const job = await checks.run(admin, { job_sequence: MEDIAN, params: { image_type: otherType, user_id: admin.id } });
      expect(job.result).toMatchObject({ count: 0, median: null });
    });

    it.each([
      ['every histogram, K=10', () => ({ target: targets[ada.username] })],
      ['days=30 of image_type=histogram, K=3', () => ({ target: targets[ada.username], k: 3, days: 30, image_type: 'histogram' })],
      ['the newest n=300, K=50', () => ({ target: targets[bob.username], k: 50, n: 300 })],
      ['one other user', () => ({ target: targets[cy.username], user_id: dee.id })],
      ['days=1, K=2', () => ({ target: targets[eve.username], k: 2, days: 1 })],
    ])('nearest users over %s', async (_, search) => {
      const owner = [ada, bob, cy, dee, eve].find((user) => targets[user.username] === search().target)!;
      const neighbors = await checks.expectNearest(owner, search());
      expect(neighbors.length).toBeGreaterThan(0);
    });

    it("an admin's search on a user's behalf leaves out params.user instead of the owner", async () => {
      const neighbors = await checks.expectNearest(admin, { target: targets[ada.username], owner: ada.id, user: bob.id, k: 5 });
      expect(neighbors[0]).toMatchObject({ user_id: ada.id, image_id: targets[ada.username] });
      expect(neighbors.map((n) => n.user_id)).not.toContain(bob.id);
    });

    it.each([
      ['a query, in params', () => ({ job_sequence: MEDIAN, params: { status: 'completed' } }), 'params.status'],
      [
        'a query, in the environment',
        () => ({ job_sequence: MEDIAN, environment: `QUERY='status=completed'` }),
        'environment.QUERY.status',
      ],
      [
        'a search, in params',
        () => ({ job_sequence: SEARCH, params: { target: targets[ada.username], status: 'completed' } }),
        'params.status',
      ],
      [
        'a search, in the environment',
        () => ({ job_sequence: SEARCH, environment: `QUERY='status=completed' TARGET=${targets[ada.username]}` }),
        'environment.QUERY.status',
      ],
    ])('refuses status in %s with 422 naming it', async (_, body, field) => {
      const response = await api(app).post('/api/jobs.json').set(bearer(ada.token)).send(body()).expect(422);
      expect(response.body.details.map((detail: { field: string }) => detail.field)).toContain(field);
    });
  });

  describe('as histograms are added and deleted and images change owner between runs', () => {
    const all = () => [
      () => checks.expectMedian(admin, {}),
      () => checks.expectMean(admin, { user_id: bob.id }),
      () => checks.expectMedian(admin, { n: 25 }),
      () => checks.expectMedian(admin, { user_id: eve.id, days: 30 }),
      () => checks.expectNearest(ada, { target: targets[ada.username], k: 10 }),
    ];
    const runAll = async () => {
      for (const check of all()) await check();
    };
    const keep = () => Object.values(targets);
    /** Ada's nearest neighbour whose image is no search's target, which must stay its owner's. */
    const nearestOtherThanTargets = async () => {
      const neighbors = await checks.expectNearest(ada, { target: targets[ada.username], k: 10 });
      const nearest = neighbors.find((n) => !keep().includes(n.image_id));
      if (!nearest) throw new Error(`Every one of ada's nearest neighbours is a search target: ${JSON.stringify(neighbors)}`);
      return nearest;
    };

    it('before the changes', runAll);

    it('after histograms are added, newer and older than the rest', async () => {
      lastChange = await change(db, async () => {
        await addHistograms(db, bob.id, 60);
        const old = await addHistograms(db, eve.id, 40);
        await db.query(`UPDATE images SET created_at = now() - interval '10 days' WHERE id = ANY($1::int[])`, [old.slice(0, 20)]);
      });
      await runAll();
    });

    it('after images whose histograms are committed later', async () => {
      let bare: number[] = [];
      lastChange = await change(db, async () => {
        const { rows } = await db.query<{ id: number }>(
          `INSERT INTO images (status, user_id, image_type_id)
           SELECT 'processed', $1, (SELECT id FROM image_types WHERE type_name = 'histogram') FROM generate_series(1, 5) RETURNING id`,
          [cy.id],
        );
        bare = rows.map((row) => row.id);
      });
      await runAll();
      lastChange = await change(db, () =>
        db.query(
          `INSERT INTO histograms (image_id, bins)
           SELECT id, ARRAY(SELECT (random() * 3000000)::int + id * 0 FROM generate_series(1, 256)) FROM unnest($1::int[]) id`,
          [bare],
        ),
      );
      expect((await selectedRows(db, { user_id: cy.id })).map((row) => row.imageId)).toEqual(expect.arrayContaining(bare));
      await runAll();
    });

    it('after images are deleted, among them the nearest neighbour and some sharing the newest created_at', async () => {
      const nearest = await nearestOtherThanTargets();
      const tied = tiedImages.filter((id) => !keep().includes(id)).slice(0, 5);
      const gone = [nearest.image_id, ...tied, ...(await randomHistogramImages(db, 80, [...keep(), nearest.image_id, ...tied]))];
      lastChange = await change(db, () => deleteImages(db, gone));
      const left = await selectedRows(db, {});
      expect(left.some((row) => gone.includes(row.imageId))).toBe(false);
      await runAll();
    });

    it("after images change owner: the nearest neighbour's to the searching user, some of bob's to eve", async () => {
      const nearest = await nearestOtherThanTargets();
      const { rows } = await db.query<{ id: number }>('SELECT id FROM images WHERE user_id = $1 AND id <> ALL($2::int[]) LIMIT 40', [
        bob.id,
        keep(),
      ]);
      lastChange = await change(db, async () => {
        await giveImages(db, [nearest.image_id], ada.id);
        await giveImages(
          db,
          rows.map((row) => row.id),
          eve.id,
        );
      });
      const neighbors = await checks.expectNearest(ada, { target: targets[ada.username], k: 50 });
      expect(neighbors.map((n) => n.image_id)).not.toContain(nearest.image_id);
      await runAll();
    });
  });

  describe('with a histogram snapshot', () => {
    const runAll = async () => {
      await checks.expectMedian(admin, {});
      await checks.expectMedian(admin, { days: 30, image_type: 'histogram' });
      await checks.expectMedian(admin, { n: 40 });
      await checks.expectMean(admin, { user_id: eve.id });
      await checks.expectNearest(bob, { target: targets[bob.username], k: 10 });
      await checks.expectNearest(cy, { target: targets[cy.username], k: 4, days: 1 });
    };
    const keep = () => Object.values(targets);

    it('right after a snapshot holding the latest additions, deletions and changes of owner', async () => {
      lastChange = await change(db, async () => {
        await addHistograms(db, dee.id, 50);
        await deleteImages(db, await randomHistogramImages(db, 30, keep()));
        await giveImages(db, await randomHistogramImages(db, 20, keep()), bob.id);
      });
      await snapshotAfter(db, lastChange);
      await runAll();
    }, 90_000);

    it('after a restart that loads the snapshot, with changes made while no worker ran', async () => {
      await snapshotAfter(db, lastChange);
      await worker!.close();
      worker = undefined;
      const snapshotId = await latestSnapshotId(db);
      lastChange = await change(db, async () => {
        await addHistograms(db, ada.id, 40);
        await addHistograms(db, eve.id, 3);
        await deleteImages(db, await randomHistogramImages(db, 30, keep()));
        await giveImages(db, await randomHistogramImages(db, 25, keep()), cy.id);
        await db.query(`UPDATE images SET created_at = now() - interval '40 days' WHERE id = ANY($1::int[])`, [
          await randomHistogramImages(db, 25, keep()),
        ]);
      });
      worker = await startTestWorker(env);
      expect(await loadReportOf(worker)).toEqual({ source: 'snapshot', snapshotId });
      await runAll();
    }, 120_000);

    it('deletes the file and the row of a snapshot whose writer died while writing it, and is still exact', async () => {
      const storage = app.get(StorageDriver);
      const key = newStorageKey('histogram-snapshots', 'bin');
      await storage.put(key, Buffer.alloc(4096), 'application/octet-stream');
      const {
        rows: [abandoned],
      } = await db.query<{ id: number }>(
        'INSERT INTO histogram_snapshots (storage_key, horizon, histograms, bytes) VALUES ($1, 1, 0, 0) RETURNING id',
        [key],
      );
      lastChange = await change(db, () => addHistograms(db, ada.id, 5));
      const written = await snapshotAfter(db, lastChange);
      expect(written).toBeGreaterThan(abandoned.id);
      expect((await db.query('SELECT id FROM histogram_snapshots WHERE id = $1', [abandoned.id])).rows).toEqual([]);
      expect(await storage.stat(key)).toBeNull();
      await runAll();
    }, 90_000);
  });
});

describe('two worker processes, each with a DATA_DIR of its own, on one installation with its files on S3', () => {
  let env: TestEnv;
  let app: NestExpressApplication;
  let db: Client;
  let database: { url: string; drop(): Promise<void> };
  let storage: { stop(): Promise<void> };
  let admin: TestUser;
  let lastChange: string;

  const checks = aggregateChecks(
    () => app,
    () => db,
  );

  beforeAll(async () => {
    const files = await storageFor('s3', 'darkroom-aggregates-exact');
    storage = files;
    database = await createSuiteDatabase('aggregates_exact_s3');
    env = testEnv({ DATABASE_URL: database.url, HISTOGRAM_SNAPSHOT_CHANGES: '1', QUEUE_PREFIX: unique('exacts3'), ...files.env });
    app = await createTestApp(env);
    db = new Client({ connectionString: database.url });
    await db.connect();
    admin = await createAdmin(app);
    const owners = [await createUser(app), await createUser(app), await createUser(app)];
    lastChange = await change(db, async () => {
      for (const [index, owner] of owners.entries()) await addHistograms(db, owner.id, 150 + 50 * index);
    });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await db?.end();
    await database?.drop();
    await storage?.stop();
  });

  /** A worker process of the installation (worker.main.js), with a DATA_DIR of its own. */
  const startWorkerProcess = (name: string) =>
    startNode(
      name,
      WORKER_MAIN,
      [],
      { PATH: process.env.PATH, HOME: process.env.HOME, ...env, DATA_DIR: ownDataDir(), WORKER_METRICS_PORT: '0' },
      join(ownDataDir(), `${name}.log`),
    );

  /** The snapshot a worker process says it loaded at start, once it says so. */
  const loadedSnapshot = async (worker: ManagedProcess): Promise<number> => {
    for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
      const loaded = /Loaded \d+ histograms from snapshot (\d+)/.exec(worker.log());
      if (loaded) return Number(loaded[1]);
      if (!worker.running || Date.now() > deadline) throw new Error(`${worker.name} loaded no snapshot:\n${worker.tail()}`);
    }
  };

  it('each of two worker processes loads the shared snapshot and computes the same exact median on its own', async () => {
    const writer = startWorkerProcess('exact-snapshot-writer');
    let snapshotId: number;
    try {
      snapshotId = await snapshotAfter(db, lastChange, 60_000);
    } finally {
      await writer.signal('SIGTERM');
    }
    expect(await latestSnapshotId(db)).toBe(snapshotId);
    const medianOnAFreshWorker = async (name: string) => {
      const worker = startWorkerProcess(name);
      try {
        expect(await loadedSnapshot(worker)).toBe(snapshotId);
        await checks.expectMedian(admin, { n: 50 });
        return await checks.expectMedian(admin, {});
      } finally {
        await worker.signal('SIGTERM');
      }
    };
    const first = await medianOnAFreshWorker('exact-worker-a');
    expect(await medianOnAFreshWorker('exact-worker-b')).toEqual(first);
  }, 180_000);
});
