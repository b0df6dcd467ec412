import { DataSource, EntityManager } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { runMigrations } from '../src/database/migrate';
import { InvalidInputError } from '../src/pipelines/invalid-input.error';
import { Job } from '../src/job-runs/job.entity';
import { JobRepository, NewJob } from '../src/job-runs/job.repository';
import { JobMetrics } from '../src/metrics/job-metrics';
import { MetricsRegistry } from '../src/metrics/metrics-registry';
import { QuotaExceededError } from '../src/common/quota-exceeded.error';
import { assertStorageAfterWrite, QuotaDefaults } from '../src/quotas/quotas';
import { foldUsageDeltas } from '../src/users/user.repository';
import { User } from '../src/users/user.entity';
import { createSuiteDatabase } from './utils/suite-database';

const DEFAULTS: QuotaDefaults = { jobsInProgress: 1000, storageBytes: 10 ** 12 };
const MISSING_USER = 2_000_000_000;

/**
 * The counter caches (base in users plus user_usage_deltas) and the quota checks that no longer
 * rely on a hot users row, on a database of the suite's own (the last test undoes a migration).
 */
describe('usage counters and quota checks', () => {
  let database: { url: string; drop(): Promise<void> };
  let dataSource: DataSource;
  let metrics: MetricsRegistry;
  let jobs: JobRepository;
  let sequence = 0;

  beforeAll(async () => {
    database = await createSuiteDatabase('usage_counters');
    dataSource = await new DataSource(dataSourceOptions(database.url)).initialize();
    metrics = new MetricsRegistry();
    jobs = new JobRepository(dataSource, new JobMetrics(metrics));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  const newUser = async (limits: { jobs?: number; bytes?: number } = {}): Promise<number> => {
    const name = `counter${++sequence}`;
    const [{ id }] = await dataSource.query(
      `INSERT INTO users (username, email, encrypted_password, max_jobs_in_progress, max_storage_bytes)
       VALUES ($1, $2, 'not-a-password-hash', $3, $4) RETURNING id`,
      [name, `${name}@example.com`, limits.jobs ?? null, limits.bytes ?? null],
    );
    return id as number;
  };

  const newJob = (userId: number): NewJob => ({
    lane: 'interactive',
    environment: null,
    imageUrl: 'https://example.com/photo.jpg',
    jobType: ['process', 'grayscale'],
    params: {},
    userId,
    imageId: null,
    timeout: 60,
    ttl: null,
    maxAttempts: 3,
    force: false,
    callbackUrl: null,
  });

  const addImage = async (manager: EntityManager, userId: number, bytes: number | null): Promise<number> => {
    const [{ id }] = await manager.query('INSERT INTO images (status, user_id, bytes) VALUES ($1, $2, $3) RETURNING id', [
      bytes === null ? 'created' : 'original_stored',
      userId,
      bytes,
    ]);
    return id as number;
  };

  /** What the API shows (User's columns: base plus deltas) against the rows themselves. */
  const shownAndActual = async (userId: number) => {
    const user = await dataSource.getRepository(User).findOneByOrFail({ id: userId });
    const [actual] = await dataSource.query(
      `SELECT (SELECT count(*)::int FROM jobs WHERE user_id = $1) AS jobs, (SELECT count(*)::int FROM images WHERE user_id = $1) AS images,
              (SELECT coalesce(sum(bytes), 0)::bigint FROM images WHERE user_id = $1) AS bytes`,
      [userId],
    );
    return {
      shown: { jobs: user.jobsCountNow, images: user.imageCountNow, bytes: user.storageBytesNow },
      actual: { jobs: actual.jobs, images: actual.images, bytes: Number(actual.bytes) },
    };
  };

  const deltaRows = async (userId: number): Promise<number> =>
    (await dataSource.query('SELECT count(*)::int AS count FROM user_usage_deltas WHERE user_id = $1', [userId]))[0].count;

  it("grants a batch each owner's room once, in order, and refuses the rest as single creations would be", async () => {
    const small = await newUser({ jobs: 2 });
    const large = await newUser({ jobs: 5 });
    const created = async () =>
      (await metrics.exposition()).text.match(/darkroom_jobs_created_total\{operation="process"\} (\d+)/)?.[1] ?? '0';
    const before = Number(await created());
    const owners = [small, large, small, MISSING_USER, small, large];
    const outcomes = await jobs.insertMany(owners.map(newJob), DEFAULTS);
    expect(outcomes.map((outcome) => outcome.constructor)).toEqual([Job, Job, Job, InvalidInputError, QuotaExceededError, Job]);
    expect(outcomes.map((outcome) => (outcome instanceof Job ? outcome.userId : null))).toEqual([small, large, small, null, null, large]);
    const ids = outcomes.flatMap((outcome) => (outcome instanceof Job ? [outcome.id] : []));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect((outcomes[3] as InvalidInputError).details).toEqual([
      { field: 'user_id', message: `user_id ${MISSING_USER} does not name an existing user` },
    ]);
    expect((outcomes[4] as Error).message).toBe('Too many jobs in progress: 2 of 2 queued or running; wait for some to finish');
    expect(Number(await created())).toBe(before + 4);
    const refused = await jobs.insertMany([newJob(small)], DEFAULTS);
    expect((refused[0] as QuotaExceededError).quota).toBe('jobs');
  });

  it('never lets concurrent creations and retries take a user past the limit', async () => {
    const user = await newUser({ jobs: 7 });
    const neighbour = await newUser({ jobs: 100 });
    const batches = Array.from({ length: 20 }, (_, index) =>
      jobs.insertMany(
        Array.from({ length: 1 + (index % 3) }, (_, n) => newJob(n === 1 ? neighbour : user)),
        DEFAULTS,
      ),
    );
    const outcomes = (await Promise.all(batches)).flat();
    const mine = outcomes.filter((outcome) => !(outcome instanceof Job) || outcome.userId === user);
    expect(mine.filter((outcome) => outcome instanceof Job)).toHaveLength(7);
    expect(mine.filter((outcome) => outcome instanceof QuotaExceededError)).toHaveLength(mine.length - 7);

    // Five ended jobs leave room for five: their five retries race with three creations.
    const ended = mine
      .filter((outcome): outcome is Job => outcome instanceof Job)
      .slice(0, 5)
      .map((job) => job.id);
    await dataSource.query(`UPDATE jobs SET status = 'cancelled' WHERE id = ANY($1)`, [ended.slice(0, 3)]);
    await dataSource.query(`UPDATE jobs SET status = 'failed' WHERE id = ANY($1)`, [ended.slice(3)]);
    const raced = await Promise.allSettled([
      ...ended.map((id) => jobs.retry(id, DEFAULTS)),
      ...Array.from({ length: 3 }, () => jobs.insert(newJob(user), DEFAULTS)),
    ]);
    expect(raced.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
    expect(
      raced.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason.message),
    ).toEqual([
      'Too many jobs in progress: 7 of 7 queued or running; wait for some to finish',
      'Too many jobs in progress: 7 of 7 queued or running; wait for some to finish',
      'Too many jobs in progress: 7 of 7 queued or running; wait for some to finish',
    ]);
    const [{ count }] = await dataSource.query(
      `SELECT count(*)::int AS count FROM jobs WHERE user_id = $1 AND status IN ('queued', 'running')`,
      [user],
    );
    expect(count).toBe(7);
    expect(await jobs.retry(ended[0] + 1_000_000, DEFAULTS)).toBeNull();
  });

  it('never lets concurrent storage-adding writes take a user past the limit', async () => {
    const user = await newUser({ bytes: 1000 });
    const writes = Array.from({ length: 16 }, () =>
      dataSource.transaction(async (manager) => {
        await addImage(manager, user, 100);
        await assertStorageAfterWrite(manager, user, DEFAULTS, 100, 'this file');
      }),
    );
    const outcomes = await Promise.allSettled(writes);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(10);
    const refusal = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')!.reason as Error;
    expect(refusal.message).toBe('Storage quota exceeded: 1000 of 1000 bytes used, and this file takes 100 more');
    const { shown, actual } = await shownAndActual(user);
    expect(shown).toEqual(actual);
    expect(actual).toMatchObject({ images: 10, bytes: 1000 });
  });

  it("lets job creations and frees go on while a storage write holds the user's storage lock, which the next storage write waits for", async () => {
    const user = await newUser({ bytes: 10_000 });
    const old = await addImage(dataSource.manager, user, 500);
    const [running] = (await jobs.insertMany([newJob(user)], DEFAULTS)) as Job[];
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    try {
      await holder.startTransaction();
      // A worker mid-way: it holds the job's row (a claim) and has recorded an output.
      await holder.query(`UPDATE jobs SET status = 'running' WHERE id = $1`, [running.id]);
      await addImage(holder.manager, user, 300);
      await assertStorageAfterWrite(holder.manager, user, DEFAULTS, 300, 'an output');

      const within = <T>(promise: Promise<T>) =>
        Promise.race([
          promise,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('waited on the storage write')), 3000)),
        ]);
      expect(await within(jobs.insert(newJob(user), DEFAULTS))).toBeInstanceOf(Job);
      await within(dataSource.query('DELETE FROM images WHERE id = $1', [old]));

      let secondDone = false;
      const second = dataSource
        .transaction(async (manager) => {
          await addImage(manager, user, 200);
          await assertStorageAfterWrite(manager, user, DEFAULTS, 200, 'another output');
        })
        .then(() => (secondDone = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(secondDone).toBe(false);
      await holder.commitTransaction();
      await second;
    } finally {
      await holder.release();
    }
    const { shown, actual } = await shownAndActual(user);
    expect(shown).toEqual(actual);
    expect(actual.bytes).toBe(500);
  });

  it('shows exact counts through creations, deletions, moves and file changes, and across a fold; job updates write nothing', async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const made = (await jobs.insertMany([newJob(alice), newJob(alice), newJob(bob)], DEFAULTS)) as Job[];
    const images = [
      await addImage(dataSource.manager, alice, 1000),
      await addImage(dataSource.manager, alice, null),
      await addImage(dataSource.manager, bob, 50),
    ];
    const before = await deltaRows(alice);
    await dataSource.query(`UPDATE jobs SET status = 'running', progress = 50 WHERE user_id = $1`, [alice]);
    await dataSource.query(`UPDATE images SET status = 'processed' WHERE user_id = $1`, [alice]);
    expect(await deltaRows(alice)).toBe(before);

    await jobs.delete(made[0].id);
    await dataSource.query('UPDATE images SET user_id = $2 WHERE id = $1', [images[0], bob]);
    await dataSource.query('UPDATE images SET bytes = 70 WHERE id = $1', [images[2]]);
    await dataSource.query('UPDATE images SET bytes = 10 WHERE id = $1', [images[1]]);
    for (const user of [alice, bob]) {
      const { shown, actual } = await shownAndActual(user);
      expect(shown).toEqual(actual);
    }
    expect((await shownAndActual(bob)).actual).toEqual({ jobs: 1, images: 2, bytes: 1070 });

    expect(await foldUsageDeltas(dataSource.manager)).toBeGreaterThan(0);
    expect([await deltaRows(alice), await deltaRows(bob)]).toEqual([0, 0]);
    for (const user of [alice, bob]) {
      const { shown, actual } = await shownAndActual(user);
      expect(shown).toEqual(actual);
    }
    await dataSource.query('DELETE FROM users WHERE id = $1', [alice]);
    await foldUsageDeltas(dataSource.manager);
    expect(await deltaRows(alice)).toBe(0);
  });

  /** Undoes the newest migrations, down to and including `name` (later ones may build on it). */
  async function undoMigrationsThrough(name: string): Promise<void> {
    for (;;) {
      const [newest] = (await dataSource.query('SELECT name FROM migrations ORDER BY id DESC LIMIT 1')) as { name: string }[];
      await dataSource.undoLastMigration({ transaction: 'each' });
      if (newest.name === name) return;
    }
  }

  it('goes down to the triggers it replaced, with exact counters, and up again', async () => {
    const user = await newUser();
    await jobs.insertMany([newJob(user), newJob(user)], DEFAULTS);
    await addImage(dataSource.manager, user, 42);
    const [{ id: gone }] = await dataSource.query(`SELECT id FROM jobs WHERE user_id = $1 LIMIT 1`, [user]);
    await jobs.delete(gone);
    const expected = (await shownAndActual(user)).actual;

    await undoMigrationsThrough('UsageDeltas1796700000002');
    const base = async () =>
      (
        await dataSource.query('SELECT jobs_count AS jobs, image_count AS images, storage_bytes::int AS bytes FROM users WHERE id = $1', [
          user,
        ])
      )[0];
    expect(await base()).toEqual(expected);
    await dataSource.query(`INSERT INTO jobs (user_id, image_url) VALUES ($1, 'https://example.com/b.jpg')`, [user]);
    expect(await base()).toEqual({ ...expected, jobs: expected.jobs + 1 });

    await runMigrations(database.url, { queueOnPostgres: true });
    const { shown, actual } = await shownAndActual(user);
    expect(shown).toEqual(actual);
    expect(actual.jobs).toBe(expected.jobs + 1);
  });
});
