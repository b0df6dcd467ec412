import { createSuiteDatabase } from './utils/suite-database';
import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { createUser, fixture, TestUser } from './utils/factories';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

const queues = ['postgres', ...(process.env.REDIS_URL ? ['redis'] : [])];

/**
 * astronaut.jpg with its scan pointed at Huffman tables the file never defines: every marker,
 * length and the EOI are in place, so the upload's structural check passes; only a decode fails.
 */
function jpegThatDoesNotDecode(): Buffer {
  const jpeg = Buffer.from(fixture('astronaut.jpg'));
  const scan = jpeg.indexOf(Buffer.from([0xff, 0xda]));
  const components = jpeg[scan + 4];
  for (let index = 0; index < components; index++) jpeg[scan + 6 + 2 * index] = 0x33;
  return jpeg;
}

const UNDECODABLE = 'VipsJpeg: Huffman table 0x03 was not defined';

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe.each(queues)('the one full decode of an upload, in the worker (%s queue)', (queue) => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext | undefined;
  let user: TestUser;
  let env: TestEnv;

  const start = async (overrides: TestEnv) => {
    env = testEnv({
      // Each queue backend on an installation of its own: no work done on the other to reuse.
      DATABASE_URL: env?.DATABASE_URL ?? (await createSuiteDatabase(queue)).url,
      REDIS_URL: queue === 'redis' ? process.env.REDIS_URL : undefined,
      ...overrides,
    });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    user = await createUser(app);
  };
  const stop = async () => {
    await worker?.close();
    await app?.close();
  };
  const upload = async (bytes: Buffer, name: string) =>
    (await api(app).post('/api/images.json').set(bearer(user.token)).attach('file', bytes, name).expect(201)).body;
  const image = async (id: number) => (await api(app).get(`/api/images/${id}.json`).set(bearer(user.token)).expect(200)).body;
  const verifiedAt = async (id: number): Promise<Date | null> =>
    (await app.get(DataSource).query('SELECT verified_at FROM images WHERE id = $1', [id]))[0].verified_at;
  const processJob = (imageId: number, attempts = 3) =>
    api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: imageId, job_sequence: ['process', 'grayscale'], attempts });

  describe('with jobs', () => {
    // Long enough that no pass of this worker runs during these tests: the jobs make the decode.
    beforeAll(() => start({ VERIFY_DELAY: '600' }));
    afterAll(stop);

    it('takes a file that passes the structural check; its job finds it corrupt, fails at once, and later jobs are refused', async () => {
      const uploaded = await upload(jpegThatDoesNotDecode(), 'broken.jpg');
      expect(uploaded).toMatchObject({ status: 'original stored', format: 'jpeg', width: 512, height: 512, corrupt_reason: null });

      const created = await processJob(uploaded.id).expect(201);
      const job = await waitForJob(app, user.token, created.body.id);
      expect(job).toMatchObject({ status: 'failed', attempts: 1, error: `Image ${uploaded.id} is corrupt: ${UNDECODABLE}` });
      expect(await image(uploaded.id)).toMatchObject({ status: 'corrupt', corrupt_reason: UNDECODABLE });
      expect(await verifiedAt(uploaded.id)).not.toBeNull();

      const refused = await processJob(uploaded.id).expect(422);
      expect(refused.body.details).toEqual([
        {
          field: 'image_id',
          message: `Image ${uploaded.id} is corrupt: ${UNDECODABLE}; upload its file again (PUT /api/images/${uploaded.id}/file)`,
        },
      ]);

      const replaced = await api(app)
        .put(`/api/images/${uploaded.id}/file`)
        .set(bearer(user.token))
        .set('Content-Type', 'image/jpeg')
        .send(fixture('astronaut.jpg'))
        .expect(200);
      expect(replaced.body).toMatchObject({ status: 'original stored', corrupt_reason: null });
      expect(await verifiedAt(uploaded.id)).toBeNull();
      const again = await processJob(uploaded.id).expect(201);
      expect(await waitForJob(app, user.token, again.body.id)).toMatchObject({ status: 'completed' });
      expect(await verifiedAt(uploaded.id)).not.toBeNull();
    });

    it('marks a source verified by its first completed job', async () => {
      const uploaded = await upload(fixture('coffee.png'), 'coffee.png');
      expect(await verifiedAt(uploaded.id)).toBeNull();
      const created = await processJob(uploaded.id).expect(201);
      expect(await waitForJob(app, user.token, created.body.id)).toMatchObject({ status: 'completed' });
      const first = await verifiedAt(uploaded.id);
      expect(first).not.toBeNull();
      const second = await processJob(uploaded.id).expect(201);
      expect(await waitForJob(app, user.token, second.body.id)).toMatchObject({ status: 'completed' });
      expect(await verifiedAt(uploaded.id)).toEqual(first);
      expect(await image(uploaded.id)).toMatchObject({ status: 'original stored', corrupt_reason: null });
    });
  });

  describe('without jobs', () => {
    beforeAll(() => start({ VERIFY_DELAY: '1' }));
    afterAll(stop);

    it('decodes an original uploaded with no job in a pass, marking it verified, or corrupt with the reason', async () => {
      const good = await upload(fixture('astronaut.png'), 'astronaut.png');
      const bad = await upload(jpegThatDoesNotDecode(), 'broken.jpg');
      expect(await verifiedAt(good.id)).toBeNull();
      await until(
        () => verifiedAt(good.id),
        (value) => value !== null,
      );
      const marked = await until(
        () => image(bad.id),
        (record) => record.status !== 'original stored',
      );
      expect(marked).toMatchObject({ status: 'corrupt', corrupt_reason: UNDECODABLE });
      expect(await image(good.id)).toMatchObject({ status: 'original stored', corrupt_reason: null });
      await processJob(bad.id).expect(422);
    });
  });
});
