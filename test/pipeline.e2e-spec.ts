import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { binary, maxDifference, rgb2grayReference } from './utils/images';
import { startS3Server } from '../bench/s3-server';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

const BUCKET = 'darkroom-test';
const queues = ['postgres', ...(process.env.REDIS_URL ? ['redis'] : [])];
const setups = queues.flatMap((queue) => ['local', 's3'].map((storage) => ({ queue, storage })));

describe.each(setups)('process pipelines: $queue queue, $storage storage', ({ queue, storage }) => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let s3: { endpoint: string; stop(): Promise<void> } | undefined;
  let user: TestUser;
  let env: TestEnv;

  beforeAll(async () => {
    // An installation of its own for each set-up: one file store each, and no work done in
    // another set-up to reuse.
    const overrides: TestEnv = {
      DATABASE_URL: (await createSuiteDatabase(`${queue}_${storage}`)).url,
      REDIS_URL: queue === 'redis' ? process.env.REDIS_URL : undefined,
    };
    if (storage === 's3') {
      s3 = await startS3Server(BUCKET);
      Object.assign(overrides, {
        STORAGE: 's3',
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: s3.endpoint,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      });
    }
    env = testEnv(overrides);
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    user = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await s3?.stop();
  });

  const download = (path: string) => api(app).get(path).set(bearer(user.token)).buffer(true).parse(binary).expect(200);

  it.each([
    ['a PNG uploaded with PUT /api/images/:id/file', 'astronaut.png', 'put'],
    ['a JPEG uploaded with multipart POST /api/images.json', 'astronaut.jpg', 'multipart'],
  ])('runs ["process", "grayscale", "histogram"] on %s', async (_, file, how) => {
    const photo = fixture(file);
    const image =
      how === 'put'
        ? await createStoredImage(app, user, file)
        : (await api(app).post('/api/images.json').set(bearer(user.token)).attach('file', photo, file).expect(201)).body;
    expect(image).toMatchObject({ status: 'original stored', image_type: 'original', bytes: photo.length });

    const created = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: image.id, job_sequence: ['process', 'grayscale', 'histogram'] })
      .expect(201);
    expect(created.body).toMatchObject({ status: 'queued', job_type: ['process', 'grayscale', 'histogram'] });
    const job = await waitForJob(app, user.token, created.body.id);
    expect(job).toMatchObject({ status: 'completed', progress: 100, error: null, attempts: 1 });
    expect(job.outputs).toHaveLength(2);
    expect(job.started_at).not.toBeNull();
    expect(job.finished_at).not.toBeNull();

    const [greyId, chartId] = job.outputs;
    const greyRecord = (await api(app).get(`/api/images/${greyId}.json`).set(bearer(user.token)).expect(200)).body;
    expect(greyRecord).toMatchObject({
      status: 'processed',
      image_type: 'grayscale',
      original_id: image.id,
      job_id: job.id,
      user_id: user.id,
      format: 'png',
    });

    const grey = await download(`/api/images/${greyId}/file`);
    expect(grey.headers['content-type']).toBe('image/png');
    expect(grey.headers['content-disposition']).toBe(`attachment; filename="${greyId}-grayscale.png"`);
    expect(grey.headers.etag).toBe(`"${greyRecord.sha256}"`);
    expect(await sharp(grey.body).metadata()).toMatchObject({ format: 'png', channels: 1 });
    const greyPixels = await sharp(grey.body).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    const reference = await rgb2grayReference(photo);
    expect([greyPixels.info.width, greyPixels.info.height]).toEqual([reference.width, reference.height]);
    expect(await maxDifference(greyPixels.data, reference.data)).toBeLessThanOrEqual(1);

    const chartRecord = (await api(app).get(`/api/images/${chartId}.json`).set(bearer(user.token)).expect(200)).body;
    expect(chartRecord.image_type).toBe('histogram');
    expect(chartRecord.histogram).toHaveLength(256);
    const counted = new Array(256).fill(0);
    for (const value of reference.data) counted[value]++;
    expect(chartRecord.histogram.reduce((sum: number, n: number) => sum + n, 0)).toBe(reference.width * reference.height);
    const chart = await download(`/api/images/${chartId}/file`);
    expect((await sharp(chart.body).metadata()).format).toBe('png');

    const zip = await download(`/api/jobs/${job.id}/download`);
    expect(zip.headers['content-type']).toBe('application/zip');
    expect(zip.headers['content-disposition']).toBe(`attachment; filename="job-${job.id}.zip"`);
    expect(zip.body.subarray(0, 4)).toEqual(Buffer.from('PK\x03\x04', 'latin1'));
    expect(zip.body.includes(Buffer.from(`1-${greyId}-grayscale.png`))).toBe(true);
    expect(zip.body.includes(Buffer.from(`2-${chartId}-histogram.png`))).toBe(true);

    const original = await download(`/api/images/${image.id}/file`);
    expect(original.body.equals(photo)).toBe(true);
  });
});
