import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import { backendsAndStorages, storageFor } from './utils/storages';
import { createSuiteDatabase } from './utils/suite-database';
import { SyncTombstonesSweeper } from '../src/sync/sync-tombstones-sweeper';
import { createAdmin, createImage, createJob, createStoredImage, createUser, TestUser } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

type Json = Record<string, any>;

interface SyncAnswer {
  images: Json[];
  jobs: Json[];
  deleted: { images: number[]; jobs: number[] };
  cursor: string;
  has_more: boolean;
}

/** A client's copy of its records, kept by delta sync alone, checking every answer as it applies it. */
class Replica {
  readonly images = new Map<number, Json>();
  readonly jobs = new Map<number, Json>();
  readonly tombstones = { images: new Set<number>(), jobs: new Set<number>() };
  cursor: string | undefined;
  pages = 0;

  constructor(
    private readonly app: NestExpressApplication,
    private readonly user: TestUser,
    private readonly limit: number,
  ) {}

  async page(): Promise<SyncAnswer> {
    const query = { limit: String(this.limit), ...(this.cursor === undefined ? {} : { since: this.cursor }) };
    const { body } = await api(this.app).get('/api/sync.json').query(query).set(bearer(this.user.token)).expect(200);
    const answer = body as SyncAnswer;
    this.pages++;
    if (this.cursor === undefined) expect(answer.deleted).toEqual({ images: [], jobs: [] });
    expect(answer.images.length + answer.jobs.length + answer.deleted.images.length + answer.deleted.jobs.length).toBeLessThanOrEqual(
      this.limit,
    );
    for (const kind of ['images', 'jobs'] as const) {
      for (const record of answer[kind]) {
        expect(record.user_id).toBe(this.user.id);
        // No repeat: a record comes again only once it has changed.
        expect(this.records(kind).get(record.id)).not.toEqual(record);
        expect(this.tombstones[kind].has(record.id)).toBe(false);
        this.records(kind).set(record.id, record);
      }
      for (const id of answer.deleted[kind]) {
        expect(this.tombstones[kind].has(id)).toBe(false);
        this.tombstones[kind].add(id);
        this.records(kind).delete(id);
      }
    }
    this.cursor = answer.cursor;
    return answer;
  }

  /** Pages until the answer says nothing more waits. */
  async catchUp(): Promise<void> {
    while ((await this.page()).has_more);
  }

  private records(kind: 'images' | 'jobs'): Map<number, Json> {
    return kind === 'images' ? this.images : this.jobs;
  }
}

const byId = (rows: Json[]) => new Map(rows.map((row) => [row.id as number, row]));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(backendsAndStorages())('delta sync, queue on $name, files on $storage', (setup) => {
  let storage: { stop(): Promise<void> } | undefined;
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let env: TestEnv;
  let database: Client;
  let admin: TestUser;
  let ada: TestUser;
  let grace: TestUser;

  beforeAll(async () => {
    const files = await storageFor(setup.storage, 'darkroom-sync');
    storage = files;
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`sync_${setup.label}`)).url, REDIS_URL: setup.redisUrl, ...files.env });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    database = new Client({ connectionString: env.DATABASE_URL });
    await database.connect();
    admin = await createAdmin(app);
    ada = await createUser(app);
    grace = await createUser(app);
  });

  afterAll(async () => {
    await database?.end();
    await worker?.close();
    await app?.close();
    await storage?.stop();
  });

  /** The user's own records as the lists show them (an admin's lists show everyone's unless asked). */
  const current = async (user: TestUser) => ({
    images: byId((await api(app).get(`/api/images.json?n=all&user_id=${user.id}`).set(bearer(user.token)).expect(200)).body),
    jobs: byId((await api(app).get(`/api/jobs.json?n=all&user_id=${user.id}`).set(bearer(user.token)).expect(200)).body),
  });

  /** Syncs until the replica is what the lists show; fails with the difference once `timeoutMs` has passed. */
  const converge = async (replica: Replica, user: TestUser, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await replica.catchUp();
      const truth = await current(user);
      const same = () => {
        expect(replica.images).toEqual(truth.images);
        expect(replica.jobs).toEqual(truth.jobs);
      };
      if (Date.now() > deadline) return same();
      try {
        return same();
      } catch {
        // A transaction of another suite on the same server may hold the horizon back a moment.
        await sleep(100);
      }
    }
  };

  it('answers every current record without since, paged, in the shapes of the lists; then the changes and the deletions', async () => {
    const kept = await createStoredImage(app, ada);
    const plain = await createImage(app, ada);
    const doomed = await createImage(app, ada, { original_id: plain.id });
    const job = await createJob(app, ada, { image_id: kept.id, job_type: 'grayscale' });
    await createImage(app, grace);
    await createImage(app, admin);

    const replica = new Replica(app, ada, 1);
    await converge(replica, ada);
    expect(replica.pages).toBeGreaterThanOrEqual(4);
    expect(replica.images.has(doomed.id) && replica.jobs.has(job.id)).toBe(true);

    await api(app).put(`/api/images/${plain.id}.json`).set(bearer(ada.token)).send({ image_type: 'original' }).expect(200);
    await api(app).delete(`/api/images/${doomed.id}.json`).set(bearer(ada.token)).expect(200);
    const other = await createJob(app, ada, { image_id: kept.id, job_type: 'invert', force: true });
    await api(app).delete(`/api/jobs/${other.id}.json`).set(bearer(ada.token)).expect(200);
    // The grayscale job's output is a change of its own: once it is written, nothing more is to come.
    await waitForJob(app, ada.token, job.id);
    await converge(replica, ada);
    expect(replica.images.get(plain.id)).toMatchObject({ image_type: 'original' });
    expect(replica.tombstones.images.has(doomed.id)).toBe(true);
    expect(replica.tombstones.jobs.has(other.id)).toBe(true);

    // Nothing changed: an empty answer, and a cursor still good.
    const quiet = await replica.page();
    expect(quiet).toMatchObject({ images: [], jobs: [], deleted: { images: [], jobs: [] }, has_more: false });
  });

  it('deleting an original reports the image gone and its derived records changed (cascades)', async () => {
    const original = await createStoredImage(app, ada);
    const derived = await createImage(app, ada, { original_id: original.id });
    const replica = new Replica(app, ada, 50);
    await converge(replica, ada);

    await api(app).delete(`/api/images/${original.id}.json`).set(bearer(ada.token)).expect(200);
    // One transaction made both changes, so they come in one answer; a transaction open elsewhere
    // (another suite's, on the same server) may hold that answer back a moment.
    let answer = await replica.page();
    for (const deadline = Date.now() + 15_000; answer.deleted.images.length === 0 && Date.now() < deadline; answer = await replica.page()) {
      await sleep(100);
    }
    expect(answer.deleted.images).toEqual([original.id]);
    expect(answer.images.find((image) => image.id === derived.id)).toMatchObject({ original_id: null });
    await converge(replica, ada);
  });

  it('shows an admin only their own records, and refuses ADMIN_TOKEN, which owns none', async () => {
    const own = await createImage(app, admin);
    const replica = new Replica(app, admin, 100);
    await converge(replica, admin);
    expect(replica.images.has(own.id)).toBe(true);
    expect([...replica.images.values()].every((image) => image.user_id === admin.id)).toBe(true);

    const refused = await api(app).get('/api/sync.json').set(bearer(ADMIN_TOKEN)).expect(403);
    expect(refused.body.error).toMatch(/ADMIN_TOKEN owns no records/);
    await api(app).get('/api/sync.json').expect(401);
  });

  it('orders changes by transaction id as a number, a page at a time', async () => {
    const newcomer = await createUser(app);
    const [first, second] = [await createImage(app, newcomer), await createImage(app, newcomer)];
    // As if two transactions of ids 9 and 10 had made them: in text, "10" sorts before "9".
    await database.query(`UPDATE sync_changes SET xid = 9 WHERE kind = 'image' AND record_id = $1`, [first.id]);
    await database.query(`UPDATE sync_changes SET xid = 10 WHERE kind = 'image' AND record_id = $1`, [second.id]);
    const replica = new Replica(app, newcomer, 1);
    expect((await replica.page()).images.map((image) => image.id)).toEqual([first.id]);
    expect((await replica.page()).images.map((image) => image.id)).toEqual([second.id]);
    await converge(replica, newcomer);
  });

  it('reports an image moved to another user as deleted for the one and new for the other', async () => {
    const moved = await createImage(app, ada);
    const [adas, graces] = [new Replica(app, ada, 100), new Replica(app, grace, 100)];
    await converge(adas, ada);
    await converge(graces, grace);

    await api(app).put(`/api/images/${moved.id}.json`).set(bearer(admin.token)).send({ user_id: grace.id }).expect(200);
    await converge(adas, ada);
    await converge(graces, grace);
    expect(adas.tombstones.images.has(moved.id)).toBe(true);
    expect(graces.images.get(moved.id)).toMatchObject({ user_id: grace.id });
  });

  it('is documented with its two parameters and its answer', async () => {
    const { body: spec } = await api(app).get('/api/docs-json').expect(200);
    const route = spec.paths['/api/sync'].get;
    expect(route.parameters.map((parameter: Json) => parameter.name).sort()).toEqual(['limit', 'since']);
    expect(route.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/SyncResponseDto' });
    expect(Object.keys(route.responses).sort()).toEqual(['200', '401', '403', '410', '422']);
  });

  it('refuses a malformed cursor or limit with a 422 naming it', async () => {
    const bad = await api(app).get('/api/sync.json?since=2026-12-06T00:00:00Z').set(bearer(ada.token)).expect(422);
    expect(bad.body.details).toEqual([{ field: 'since', message: expect.stringContaining('since must be a cursor') }]);
    const { body: forged } = await api(app)
      .get(`/api/sync.json?since=${Buffer.from('1:5:user:1:0').toString('base64url')}&limit=5000`)
      .set(bearer(ada.token))
      .expect(422);
    expect(forged.details.map((detail: Json) => detail.field)).toEqual(['since', 'limit']);
  });

  it('misses no change of a transaction that commits after a later one (two connections)', async () => {
    const early = await createImage(app, ada);
    const late = await createImage(app, ada);
    const replica = new Replica(app, ada, 100);
    await converge(replica, ada);

    const slow = new Client({ connectionString: env.DATABASE_URL });
    await slow.connect();
    const meanwhile = await (async () => {
      try {
        // The slow transaction takes its id first, and holds its change uncommitted.
        await slow.query('BEGIN');
        await slow.query('UPDATE images SET width = 111 WHERE id = $1', [early.id]);
        await database.query('UPDATE images SET width = 222 WHERE id = $1', [late.id]);
        // A client syncs while the later transaction has committed and the earlier one has not.
        const answered = (await replica.page()).images.map((image) => image.id);
        await slow.query('COMMIT');
        return answered;
      } finally {
        await slow.end();
      }
    })();
    await converge(replica, ada);
    expect(replica.images.get(early.id)).toMatchObject({ width: 111 });
    expect(replica.images.get(late.id)).toMatchObject({ width: 222 });
    // Because the later change was not answered while the earlier transaction ran: a cursor past
    // it would have skipped the earlier one's change for ever.
    expect(meanwhile).not.toContain(late.id);
  });

  it('pages with no gap and no repeat while writes go on, the worker running jobs', async () => {
    const source = await createStoredImage(app, ada);
    const replica = new Replica(app, ada, 4);
    await replica.catchUp();

    const created: number[] = [];
    const jobs: number[] = [];
    const deletedJobs: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let round = 0; round < 24; round++) {
        const image = await createImage(app, ada, round > 0 ? { original_id: created[created.length - 1] } : {});
        created.push(image.id);
        await createImage(app, grace);
        if (round % 3 === 0) {
          const job = await createJob(app, ada, { image_id: source.id, job_type: 'grayscale', force: true });
          jobs.push(job.id);
        }
        if (round % 4 === 1) {
          await api(app).put(`/api/images/${image.id}.json`).set(bearer(ada.token)).send({ image_type: 'original' }).expect(200);
        }
        if (round % 5 === 2)
          await api(app)
            .delete(`/api/images/${created[round - 1]}.json`)
            .set(bearer(ada.token))
            .expect(200);
        if (round % 6 === 5) {
          const job = jobs.shift()!;
          await api(app).delete(`/api/jobs/${job}.json`).set(bearer(ada.token)).expect(200);
          deletedJobs.push(job);
        }
      }
      writing = false;
    })();
    while (writing) await replica.page();
    await writer;

    // Every job ends, so its last change can be synced.
    const deadline = Date.now() + 60_000;
    while ([...(await current(ada)).jobs.values()].some((job) => job.status === 'queued' || job.status === 'running')) {
      if (Date.now() > deadline) throw new Error('Jobs still unfinished after 60 s');
      await sleep(200);
    }
    await converge(replica, ada);
    expect(replica.pages).toBeGreaterThan(10);
    for (const id of created) expect(replica.images.has(id) || replica.tombstones.images.has(id)).toBe(true);
    expect(deletedJobs.length).toBe(4);
    for (const id of deletedJobs) expect(replica.tombstones.jobs.has(id) && !replica.jobs.has(id)).toBe(true);
    // The worker's outputs reached the replica as any other new image.
    expect([...replica.images.values()].some((image) => image.job_id !== null)).toBe(true);
  });

  it('answers 410 Gone to a cursor older than the tombstones kept, once the sweep has purged them', async () => {
    const image = await createImage(app, ada);
    const replica = new Replica(app, ada, 100);
    await converge(replica, ada);
    const before = replica.cursor!;

    await api(app).delete(`/api/images/${image.id}.json`).set(bearer(ada.token)).expect(200);
    await converge(replica, ada);
    expect(replica.tombstones.images.has(image.id)).toBe(true);
    const after = replica.cursor!;

    // As if SYNC_TOMBSTONE_DAYS (30) had passed since the deletion.
    await database.query(`UPDATE sync_changes SET changed_at = now() - interval '31 days' WHERE kind = 'image' AND record_id = $1`, [
      image.id,
    ]);
    await app.get(SyncTombstonesSweeper).sweep();
    const { rows } = await database.query(`SELECT 1 FROM sync_changes WHERE kind = 'image' AND record_id = $1`, [image.id]);
    expect(rows).toEqual([]);

    const gone = await api(app).get('/api/sync.json').query({ since: before }).set(bearer(ada.token)).expect(410);
    expect(gone.body.error).toMatch(/sync again without since/);
    await api(app).get('/api/sync.json').query({ since: after }).set(bearer(ada.token)).expect(200);
    const fresh = new Replica(app, ada, 100);
    await converge(fresh, ada);
  });
});
