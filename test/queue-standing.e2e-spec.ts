import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { QueueStandingRepository } from '../src/jobs/queue-standing.repository';
import { otherLaneLimit, queueWait } from '../src/jobs/queue-wait';
import { TEST_DATABASE_URL_VARIABLE } from './setup/test-env';

/**
 * The counts behind a queued job's `ahead` and `estimated_start_at`, on rows written as the
 * dispatcher would leave them. No application runs here, so no dispatcher moves them meanwhile.
 */
describe('queue standing', () => {
  let dataSource: DataSource;
  let standings: QueueStandingRepository;
  let ada: number;
  let bob: number;
  let cy: number;

  const user = async (name: string): Promise<number> =>
    (
      await dataSource.query(`INSERT INTO users (username, email, encrypted_password) VALUES ($1, $2, 'x') RETURNING id`, [
        name,
        `${name}@example.com`,
      ])
    )[0].id;

  /** A job row of the process queue, pending unless `columns` says otherwise. */
  const job = async (userId: number, columns: Record<string, unknown> = {}): Promise<number> => {
    const row = { user_id: userId, job_type: ['process', 'grayscale'], ...columns };
    const names = Object.keys(row);
    const values = Object.values(row);
    const [inserted] = await dataSource.query(
      `INSERT INTO jobs (${names.join(', ')}) VALUES (${names.map((_, index) => `$${index + 1}`).join(', ')}) RETURNING id`,
      values,
    );
    return inserted.id;
  };
  const jobs = async (userId: number, count: number, columns: Record<string, unknown> = {}): Promise<number[]> => {
    const ids: number[] = [];
    for (let index = 0; index < count; index++) ids.push(await job(userId, columns));
    return ids;
  };

  const aheadOf = async (ids: number[], order: 'fair' | 'fifo' = 'fair'): Promise<(number | null)[]> => {
    const answers: (number | null)[] = [];
    for (const id of ids) {
      const standing = await standings.standingOf(id, order, (lane, pendingAhead) => otherLaneLimit(lane, pendingAhead, 20));
      answers.push(standing && queueWait(standing, new Date()).ahead);
    }
    return answers;
  };

  beforeAll(async () => {
    dataSource = await new DataSource(dataSourceOptions(process.env[TEST_DATABASE_URL_VARIABLE]!, 2)).initialize();
    standings = new QueueStandingRepository(dataSource);
    [ada, bob, cy] = [await user('ada'), await user('bob'), await user('cy')];
  });

  beforeEach(async () => {
    await dataSource.query('DELETE FROM jobs');
    await dataSource.query('UPDATE queue_states SET paused = false');
  });

  afterAll(() => dataSource.destroy());

  it("takes pending jobs in user turns: each user's oldest first, the older job first within a turn", async () => {
    const [a1, a2, a3] = await jobs(ada, 3);
    const [b1, b2] = await jobs(bob, 2);
    expect(await aheadOf([a1, b1, a2, b2, a3])).toEqual([0, 1, 2, 3, 4]);
  });

  it('gives the next turns to the users with the fewest jobs in flight', async () => {
    await job(ada, { status: 'running', attempts: 1, started_at: new Date() });
    await job(ada, { dispatched_at: new Date() });
    const [a1] = await jobs(ada, 1);
    const [b1, b2, b3] = await jobs(bob, 3);
    // Ada has 2 in flight: Bob's first two go before her next one, which ties with Bob's third
    // and goes first (Bob reached that count by the turns just given). Ada's dispatched job starts
    // before all of them.
    expect(await aheadOf([b1, b2, a1, b3])).toEqual([1, 2, 3, 4]);
  });

  it('at the same count in flight, gives the turn to the user served longest ago', async () => {
    const now = Date.now();
    await job(ada, { dispatched_at: new Date(now - 5000) });
    await job(bob, { dispatched_at: new Date(now) });
    const [b1] = await jobs(bob, 1);
    const [a1] = await jobs(ada, 1);
    expect(await aheadOf([a1, b1])).toEqual([2, 3]);
  });

  it('counts, for a dispatched job, the entries dispatched before it, and for a pending one all of them', async () => {
    const start = Date.now();
    const [d1, d2] = [await job(bob, { dispatched_at: new Date(start) }), await job(ada, { dispatched_at: new Date(start + 1000) })];
    const [d3] = [await job(cy, { dispatched_at: new Date(start + 1000) })];
    const [p1] = await jobs(ada, 1);
    await job(cy, { status: 'running', attempts: 1, started_at: new Date() });
    expect(await aheadOf([d1, d2, d3, p1])).toEqual([0, 1, 2, 3]);
  });

  it('lets bulk jobs go at about BULK_SHARE percent of the turns while interactive work waits', async () => {
    const interactive = await jobs(ada, 4);
    const [k1, k2] = await jobs(bob, 2, { lane: 'bulk' });
    // BULK_SHARE 20: a bulk job goes for every four interactive ones. The first bulk job is
    // next; the second waits for the four interactive ones.
    expect(await aheadOf([k1, k2])).toEqual([0, 5]);
    // Interactive jobs with two or three ahead in their lane have about one bulk job ahead too.
    expect(await aheadOf(interactive)).toEqual([0, 1, 3, 4]);
  });

  it('with QUEUE_ORDER=fifo, counts every pending job with a smaller id, whatever its user or lane', async () => {
    const [a1, a2] = await jobs(ada, 2);
    const [k1] = await jobs(bob, 1, { lane: 'bulk' });
    const [b1] = await jobs(bob, 1);
    expect(await aheadOf([a1, a2, k1, b1], 'fifo')).toEqual([0, 1, 2, 3]);
  });

  it("leaves out other queues' jobs, and answers null for a job that is not queued", async () => {
    const [a1] = await jobs(ada, 1);
    await job(bob, { job_type: ['query', 'histogram', 'median'] });
    await job(bob, { job_type: ['query', 'histogram', 'median'], dispatched_at: new Date() });
    const [b1] = await jobs(bob, 1);
    const done = await job(bob, { status: 'completed' });
    expect(await aheadOf([a1, b1, done])).toEqual([0, 1, null]);
  });

  it('estimates the start from the jobs of the queue that started in the last minute', async () => {
    const now = Date.now();
    await jobs(cy, 6, { status: 'completed', attempts: 1, started_at: new Date(now - 10_000) });
    // Neither counts: one started two minutes ago, and a job whose work was all reused never ran.
    await job(cy, { status: 'completed', attempts: 1, started_at: new Date(now - 120_000) });
    await job(cy, { status: 'completed', attempts: 0, started_at: new Date(now) });
    await job(cy, { status: 'completed', attempts: 1, started_at: new Date(now), job_type: ['query', 'histogram', 'median'] });
    const [, , a3] = await jobs(ada, 3);
    const standing = (await standings.standingOf(a3, 'fair', () => 0))!;
    expect(standing.startedRecently).toBe(6);
    // Six starts a minute: one every 10 s, so two jobs ahead start within about 20 s.
    const wait = queueWait(standing, new Date(now));
    expect(wait.ahead).toBe(2);
    expect(wait.estimatedStartAt).toEqual(new Date(now + 20_000));

    await dataSource.query(`UPDATE queue_states SET paused = true WHERE name = 'process'`);
    const paused = (await standings.standingOf(a3, 'fair', () => 0))!;
    expect(queueWait(paused, new Date(now))).toEqual({ ahead: 2, estimatedStartAt: null });
  });
});
