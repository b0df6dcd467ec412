import { NestExpressApplication } from '@nestjs/platform-express';
import { createJob, createStoredImage, createUser, TestUser } from './utils/factories';
import { api, bearer, createTestApp, testEnv } from './utils/test-app';

/**
 * GET /api/jobs/:id.json of a queued job says where it stands. No worker runs, so nothing starts:
 * the jobs stay queued, and with nothing started in the last minute there is no estimated start.
 * One job of the queue in flight at a time (QUEUE_CONCURRENCY_process=1) keeps the order the
 * same whether the dispatcher has handed out the first entry yet or not.
 */
describe('visible waiting', () => {
  let app: NestExpressApplication;
  let ada: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    app = await createTestApp(
      testEnv({ QUEUE_CONCURRENCY_process: '1', ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) }),
    );
    [ada, bob] = [await createUser(app), await createUser(app)];
  });

  afterAll(() => app.close());

  const read = async (user: TestUser, id: number) => (await api(app).get(`/api/jobs/${id}.json`).set(bearer(user.token)).expect(200)).body;

  it('answers `ahead` in the order of the user turns, no estimated start while nothing starts, and neither in lists', async () => {
    const [adaImage, bobImage] = [await createStoredImage(app, ada), await createStoredImage(app, bob)];
    const make = async (user: TestUser, image: { id: number }) =>
      (await createJob(app, user, { image_id: image.id, job_type: 'grayscale', force: true })).id;
    const [a1, a2, a3] = [await make(ada, adaImage), await make(ada, adaImage), await make(ada, adaImage)];
    const [b1, b2] = [await make(bob, bobImage), await make(bob, bobImage)];

    const standing = async (user: TestUser, id: number) => {
      const job = await read(user, id);
      expect(job.status).toBe('queued');
      expect(job.estimated_start_at).toBeNull();
      return job.ahead;
    };
    // Ada's first, then Bob's first, then each one's next, in turns.
    expect([
      await standing(ada, a1),
      await standing(bob, b1),
      await standing(ada, a2),
      await standing(bob, b2),
      await standing(ada, a3),
    ]).toEqual([0, 1, 2, 3, 4]);

    const { body: listed } = await api(app).get('/api/jobs.json').set(bearer(ada.token)).expect(200);
    expect(listed).toHaveLength(3);
    for (const job of listed) {
      expect(job).not.toHaveProperty('ahead');
      expect(job).not.toHaveProperty('estimated_start_at');
    }

    // A job that leaves the queue has no place in it, and the jobs behind it move up. Ada was
    // served last, so Bob's jobs now go first at each turn: the same whether or not the dispatcher
    // has handed Bob's first job its entry yet.
    await api(app).post(`/api/jobs/${a1}/cancel`).set(bearer(ada.token)).expect(200);
    expect(await read(ada, a1)).toMatchObject({ status: 'cancelled', ahead: null, estimated_start_at: null });
    expect([await standing(bob, b1), await standing(ada, a2), await standing(bob, b2), await standing(ada, a3)]).toEqual([0, 1, 2, 3]);
  });
});
