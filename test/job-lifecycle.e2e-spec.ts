import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { binary } from './utils/images';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

describe('job lifecycle', () => {
  let app: NestExpressApplication;
  let env: TestEnv;
  let user: TestUser;
  let worker: INestApplicationContext | undefined;

  beforeAll(async () => {
    env = testEnv();
    app = await createTestApp(env);
    user = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app.close();
  });

  const createJob = async (body: Record<string, unknown>) =>
    (await api(app).post('/api/jobs.json').set(bearer(user.token)).send(body).expect(201)).body;

  it('fails a job still queued after its ttl as expired, without running it', async () => {
    const image = await createStoredImage(app, user, 'coffee.png');
    const job = await createJob({ image_id: image.id, job_type: 'invert', ttl: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    worker = await startTestWorker(env);
    const finished = await waitForJob(app, user.token, job.id);
    expect(finished).toMatchObject({ status: 'failed', error: 'Expired: still queued after its ttl of 1 s', outputs: [], attempts: 0 });
  });

  it('runs every operation in one chain, each output a new image, the original untouched', async () => {
    worker ??= await startTestWorker(env);
    const image = await createStoredImage(app, user, 'astronaut-orientation-6.jpg');
    const steps = [
      'thumbnail',
      'resize',
      'rotate',
      'flip',
      'flop',
      'blur',
      'sharpen',
      'invert',
      'equalize',
      'edges',
      'threshold',
      'convert',
    ];
    const job = await createJob({
      image_id: image.id,
      job_type: steps,
      params: { resize: { width: 120, height: 80, fit: 'fill' }, rotate: { angle: 90 }, blur: { sigma: 1.5 }, convert: { format: 'webp' } },
    });
    const finished = await waitForJob(app, user.token, job.id);
    expect(finished).toMatchObject({ status: 'completed', progress: 100 });
    expect(finished.outputs).toHaveLength(steps.length);
    const outputs = await Promise.all(
      finished.outputs.map(async (id: number) => (await api(app).get(`/api/images/${id}.json`).set(bearer(user.token)).expect(200)).body),
    );
    expect(outputs.map((output) => output.image_type)).toEqual(steps);
    expect(outputs.every((output) => output.original_id === image.id && output.status === 'processed')).toBe(true);
    // EXIF orientation 6 is applied first: the stored 256×160 photo is upright 160×256.
    expect([outputs[0].width, outputs[0].height]).toEqual([160, 256]);
    expect([outputs[1].width, outputs[1].height]).toEqual([120, 80]);
    expect([outputs[2].width, outputs[2].height]).toEqual([80, 120]);
    expect(outputs.at(-1).format).toBe('webp');
    const thresholded = await api(app)
      .get(`/api/images/${outputs[10].id}/file`)
      .set(bearer(user.token))
      .buffer(true)
      .parse(binary)
      .expect(200);
    const levels = new Set((await sharp(thresholded.body).extractChannel(0).raw().toBuffer()).values());
    expect([...levels].every((level) => level === 0 || level === 255)).toBe(true);
    const last = await api(app).get(`/api/jobs/${job.id}/download`).set(bearer(user.token)).buffer(true).parse(binary).expect(200);
    expect(last.headers['content-type']).toBe('application/zip');
    const original = await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200);
    expect(original.body).toMatchObject({ status: 'original stored', sha256: image.sha256 });
    expect((await sharp(thresholded.body).metadata()).exif).toBeUndefined();
  });

  it('serves a single output itself, not a zip', async () => {
    worker ??= await startTestWorker(env);
    const image = await createStoredImage(app, user, 'coffee.png');
    const job = await createJob({ image_id: image.id, job_type: 'thumbnail' });
    const finished = await waitForJob(app, user.token, job.id);
    const file = await api(app).get(`/api/jobs/${job.id}/download`).set(bearer(user.token)).buffer(true).parse(binary).expect(200);
    // An opaque photograph's thumbnail is a JPEG.
    expect(file.headers['content-disposition']).toBe(`attachment; filename="${finished.outputs[0]}-thumbnail.jpg"`);
    expect((await sharp(file.body).metadata()).format).toBe('jpeg');
  });

  it('fails an attempt that runs past its timeout, with the reason', async () => {
    worker ??= await startTestWorker(env);
    const large = await sharp(fixture('astronaut.png')).resize(2500, 2500).png({ compressionLevel: 1 }).toBuffer();
    const image = (await api(app).post('/api/images.json').set(bearer(user.token)).attach('file', large, 'noise.png').expect(201)).body;
    const job = await createJob({ image_id: image.id, job_type: Array(20).fill('edges'), timeout: 1, attempts: 1 });
    const finished = await waitForJob(app, user.token, job.id);
    expect(finished).toMatchObject({ status: 'failed', error: 'Timed out after 1 s', attempts: 1 });
    expect(finished.outputs).toEqual([]);
  });

  it('offers every operation as a job type in typescript and an image type', async () => {
    const jobTypes = (await api(app).get('/api/job_types.json?n=all').set(bearer(user.token)).expect(200)).body;
    const byName = new Map(jobTypes.map((type: { job_name: string; language: string }) => [type.job_name, type.language]));
    const resize = jobTypes.find((type: { job_name: string }) => type.job_name === 'resize');
    expect(resize).toMatchObject({ description: expect.stringMatching(/./), params: expect.arrayContaining(['width', 'height', 'fit']) });
    for (const name of [
      'grayscale',
      'histogram',
      'thumbnail',
      'resize',
      'rotate',
      'flip',
      'flop',
      'blur',
      'sharpen',
      'invert',
      'threshold',
      'edges',
      'equalize',
      'convert',
    ]) {
      expect(byName.get(name)).toBe('typescript');
    }
    const imageTypes = (await api(app).get('/api/image_types.json?n=all').set(bearer(user.token)).expect(200)).body;
    expect(imageTypes.map((type: { type_name: string }) => type.type_name)).toEqual(
      expect.arrayContaining(['original', 'grayscale', 'histogram']),
    );
  });

  it('answers 404 to a download of a job with no outputs yet', async () => {
    const image = await createStoredImage(app, user, 'coffee.png');
    await worker?.close();
    worker = undefined;
    const job = await createJob({ image_id: image.id, job_type: 'invert' });
    const response = await api(app).get(`/api/jobs/${job.id}/download`).set(bearer(user.token)).expect(404);
    expect(response.body.error).toMatch(/queued; it has no outputs yet/);
  });
});
