import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { createStoredImage, createUser, TestUser } from './utils/factories';
import { binary } from './utils/images';
import { createSuiteDatabase } from './utils/suite-database';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, waitForJob } from './utils/test-app';

interface HistogramImage {
  id: number;
  user_id: number;
  created_at: string;
  histogram: number[];
}

/** numpy.median along axis 0. */
function median(rows: number[][]): number[] {
  return rows[0].map((_, bin) => {
    const column = rows.map((row) => row[bin]).sort((a, b) => a - b);
    const middle = column.length >> 1;
    return column.length % 2 ? column[middle] : (column[middle - 1] + column[middle]) / 2;
  });
}

/** Brute force: normalise, each user's closest histogram, nearest first, ties by image id. */
function nearest(all: HistogramImage[], target: number[], excludeUser: number, k: number) {
  const normalise = (bins: number[]) => {
    const sum = bins.reduce((a, b) => a + b, 0);
    return bins.map((value) => value / sum);
  };
  const t = normalise(target);
  const best = new Map<number, { image_id: number; distance: number }>();
  for (const image of all.filter((candidate) => candidate.user_id !== excludeUser)) {
    const distance = Math.sqrt(normalise(image.histogram).reduce((sum, value, bin) => sum + (value - t[bin]) ** 2, 0));
    const current = best.get(image.user_id);
    if (!current || distance < current.distance || (distance === current.distance && image.id < current.image_id)) {
      best.set(image.user_id, { image_id: image.id, distance });
    }
  }
  return [...best.entries()]
    .map(([user_id, match]) => ({ user_id, ...match }))
    .sort((a, b) => a.distance - b.distance || a.image_id - b.image_id)
    .slice(0, k);
}

describe('query and search jobs over histograms of real photographs', () => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let users: TestUser[];
  let histograms: HistogramImage[];
  let database: { url: string; drop(): Promise<void> };

  beforeAll(async () => {
    database = await createSuiteDatabase('aggregates');
    const env = testEnv({ DATABASE_URL: database.url });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    users = [await createUser(app), await createUser(app), await createUser(app), await createUser(app)];
    const photos = ['astronaut.png', 'coffee.png', 'camera.png', 'astronaut.jpg', 'astronaut-orientation-6.jpg'];
    const jobs: { user: TestUser; id: number }[] = [];
    for (const [index, user] of users.entries()) {
      for (const photo of photos.slice(index % 2, (index % 2) + 3)) {
        const image = await createStoredImage(app, user, photo);
        const job = await api(app)
          .post('/api/jobs.json')
          .set(bearer(user.token))
          .send({ image_id: image.id, job_type: ['grayscale', 'histogram'] })
          .expect(201);
        jobs.push({ user, id: job.body.id });
      }
    }
    for (const job of jobs) expect((await waitForJob(app, job.user.token, job.id)).status).toBe('completed');
    histograms = (await api(app).get('/api/images.json?image_type=histogram&n=all&include=histogram').set(bearer(ADMIN_TOKEN)).expect(200))
      .body;
    expect(histograms).toHaveLength(12);
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await database?.drop();
  });

  const run = async (user: TestUser, body: Record<string, unknown>) => {
    const created = await api(app).post('/api/jobs.json').set(bearer(user.token)).send(body).expect(201);
    return waitForJob(app, user.token, created.body.id);
  };

  it.each([
    ['the environment form', (userId: number) => ({ environment: `QUERY='n=all&days=today&image_type=histogram&user_id=${userId}'` })],
    ['the params form', (userId: number) => ({ params: { n: 'all', days: 'today', image_type: 'histogram', user_id: userId } })],
  ])("computes one user's median histogram with %s, and charts it", async (_, selection) => {
    const [alice] = users;
    const job = await run(alice, { job_sequence: ['query', 'histogram', 'median'], ...selection(alice.id) });
    const own = histograms.filter((image) => image.user_id === alice.id).map((image) => image.histogram);
    expect(job).toMatchObject({ status: 'completed', result: { count: own.length, median: median(own) } });
    expect(job.outputs).toHaveLength(1);
    const chart = await api(app).get(`/api/images/${job.outputs[0]}/file`).set(bearer(alice.token)).buffer(true).parse(binary).expect(200);
    expect(chart.headers['content-disposition']).toContain('-median.png');
    expect((await sharp(chart.body).metadata()).format).toBe('png');
  });

  it('computes the median of every user’s histograms (an admin’s query) and of the newest n=5', async () => {
    const admin = users[3];
    await api(app).put(`/api/users/${admin.id}.json`).set(bearer(ADMIN_TOKEN)).send({ admin: true }).expect(200);
    const everyone = await run(admin, {
      job_sequence: ['query', 'histogram', 'median'],
      environment: `QUERY='n=all&days=today&image_type=histogram'`,
    });
    expect(everyone.result).toEqual({ count: 12, median: median(histograms.map((image) => image.histogram)) });
    const newest = await run(admin, { job_sequence: ['query', 'histogram', 'median'], params: { n: 5, image_type: 'histogram' } });
    expect(newest.result).toEqual({ count: 5, median: median(histograms.slice(0, 5).map((image) => image.histogram)) });
  });

  it('computes the mean', async () => {
    const [, bob] = users;
    const job = await run(bob, { job_sequence: ['query', 'histogram', 'mean'], params: { user_id: bob.id } });
    const own = histograms.filter((image) => image.user_id === bob.id).map((image) => image.histogram);
    const mean = own[0].map((_, bin) => own.reduce((sum, row) => sum + row[bin], 0) / own.length);
    expect(job.result.count).toBe(own.length);
    job.result.mean.forEach((value: number, bin: number) => expect(value).toBeCloseTo(mean[bin], 9));
  });

  it('completes an empty selection with count 0 and a message', async () => {
    const job = await run(users[0], { job_sequence: ['query', 'histogram', 'median'], environment: `QUERY='image_type=grayscale'` });
    expect(job).toMatchObject({
      status: 'completed',
      outputs: [],
      result: { count: 0, median: null, message: 'No histograms matched the selection' },
    });
  });

  it.each([
    ['environment, K=2', (target: number) => ({ environment: `TARGET=${target} K=2` }), 2],
    ['params, K larger than the number of users', (target: number) => ({ params: { target, k: 50 } }), 50],
    [
      "the seed's query form",
      (target: number) => ({ job_sequence: ['query', 'histogram', 'nearest_neighbor'], environment: `TARGET=${target}` }),
      10,
    ],
  ])('finds the nearest users with %s, exactly as brute force does', async (_, form, k) => {
    const [alice] = users;
    const target = histograms.find((image) => image.user_id === alice.id)!;
    const job = await run(alice, { job_sequence: ['search', 'histogram', 'nearest_neighbor'], ...form(target.id) });
    expect(job.status).toBe('completed');
    const expected = nearest(histograms, target.histogram, alice.id, k);
    expect(job.result.neighbors.map((n: { user_id: number; image_id: number }) => [n.user_id, n.image_id])).toEqual(
      expected.map((n) => [n.user_id, n.image_id]),
    );
    job.result.neighbors.forEach((n: { distance: number }, i: number) => expect(n.distance).toBeCloseTo(expected[i].distance, 12));
    expect(job.result.neighbors.some((n: { user_id: number }) => n.user_id === alice.id)).toBe(false);
  });

  it("never reveals other users' files to a search: their images stay 404", async () => {
    const [alice, bob] = users;
    const bobs = histograms.find((image) => image.user_id === bob.id)!;
    await api(app).get(`/api/images/${bobs.id}/file`).set(bearer(alice.token)).expect(404);
  });
});
