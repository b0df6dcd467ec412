import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { JOB_STATUS } from '../src/job-runs/job.entity';
import { JobRepository } from '../src/job-runs/job.repository';
import { JobOutputRepository, OutputRecord } from '../src/job-runs/job-output.repository';
import { createImage, createJob, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { binary } from './utils/images';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';
import { filesUnder } from './utils/files';

/** A job's outputs list what exists; an original something was made from is never swapped. */
describe('outputs and originals', () => {
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

  const readJob = async (id: number) => (await api(app).get(`/api/jobs/${id}.json`).set(bearer(user.token)).expect(200)).body;
  const download = (id: number) => api(app).get(`/api/jobs/${id}/download`).set(bearer(user.token)).buffer(true).parse(binary);
  const deleteImage = (id: number) => api(app).delete(`/api/images/${id}.json`).set(bearer(user.token)).expect(200);
  const putFile = (id: number) =>
    api(app).put(`/api/images/${id}/file`).set(bearer(user.token)).set('Content-Type', 'image/png').send(fixture('camera.png'));
  const completedJob = async (imageId: number, steps: string[]) => {
    worker ??= await startTestWorker(env);
    const job = await createJob(app, user, { image_id: imageId, job_type: steps });
    const finished = await waitForJob(app, user.token, job.id);
    expect(finished).toMatchObject({ status: 'completed' });
    expect(finished.outputs).toHaveLength(steps.length);
    return finished;
  };

  describe('a deleted output', () => {
    it("leaves its job's outputs and download; the download of a job with none left is a 404 saying why", async () => {
      const image = await createStoredImage(app, user, 'coffee.png');
      const job = await completedJob(image.id, ['grayscale', 'invert', 'histogram']);
      const [grey, inverted, chart] = job.outputs as number[];

      await deleteImage(inverted);
      expect((await readJob(job.id)).outputs).toEqual([grey, chart]);
      const zip = await download(job.id).expect(200);
      expect(zip.headers['content-type']).toBe('application/zip');
      expect(zip.body.includes(Buffer.from(`1-${grey}-grayscale.png`))).toBe(true);
      expect(zip.body.includes(Buffer.from(`2-${chart}-histogram.png`))).toBe(true);
      expect(zip.body.includes(Buffer.from(`${inverted}-invert.png`))).toBe(false);

      await deleteImage(grey);
      expect((await readJob(job.id)).outputs).toEqual([chart]);
      const single = await download(job.id).expect(200);
      expect(single.headers['content-disposition']).toBe(`attachment; filename="${chart}-histogram.png"`);

      await deleteImage(chart);
      expect(await readJob(job.id)).toMatchObject({ status: 'completed', outputs: [] });
      const none = await api(app).get(`/api/jobs/${job.id}/download`).set(bearer(user.token)).expect(404);
      expect(none.body).toEqual({ error: `Job ${job.id} has no output files left: its output images were deleted`, details: [] });
    });

    it('is left out of a completion that races its delete, whichever commits first', async () => {
      const dataSource = app.get(DataSource);
      const jobs = app.get(JobRepository);
      const image = await createStoredImage(app, user, 'coffee.png');
      // A job as a worker holds it mid-attempt, with two outputs recorded; no worker runs it.
      const [{ id: jobId, delivery_id: deliveryId }] = await dataSource.query(
        `INSERT INTO jobs (status, job_type, user_id, image_id, attempts, started_at)
         VALUES ('running', '{process,grayscale,invert}', $1, $2, 1, now()) RETURNING id, delivery_id`,
        [user.id, image.id],
      );
      const outputs: number[] = [];
      for (const step of [0, 1]) {
        const [{ id }] = await dataSource.query(
          `INSERT INTO images (status, user_id, original_id, job_id, step_index) VALUES ('processed', $1, $2, $3, $4) RETURNING id`,
          [user.id, image.id, jobId, step],
        );
        outputs.push(id);
      }
      const fence = { jobId, deliveryId, attempt: 1 };

      // The delete (as ImagesService.remove runs it) has removed the image's row but not yet committed.
      const deleting = dataSource.createQueryRunner();
      await deleting.connect();
      let finishing: Promise<boolean>;
      try {
        await deleting.startTransaction();
        await deleting.manager.query('DELETE FROM images WHERE id = $1', [outputs[1]]);
        finishing = jobs.finish(fence, JOB_STATUS.completed, { outputImageIds: outputs, progress: 100, error: null });
        let settled = false;
        void finishing.then(
          () => (settled = true),
          () => (settled = true),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(settled).toBe(false); // it waits for the delete to commit or roll back
        await jobs.removeOutput(deleting.manager, jobId, outputs[1]);
        await deleting.commitTransaction();
      } finally {
        if (deleting.isTransactionActive) await deleting.rollbackTransaction();
        await deleting.release();
      }
      expect(await finishing).toBe(true);
      expect(await readJob(jobId)).toMatchObject({ status: 'completed', outputs: [outputs[0]] });

      // A completion whose fence no longer holds still changes nothing.
      expect(await jobs.finish(fence, JOB_STATUS.completed, { outputImageIds: outputs })).toBe(false);
    });

    it('is recomputed when its job is retried, since a retry redoes the steps with no recorded output', async () => {
      const image = await createStoredImage(app, user, 'coffee.png');
      const job = await completedJob(image.id, ['grayscale', 'invert']);
      const [grey, inverted] = job.outputs as number[];
      await deleteImage(inverted);
      // Completed jobs are not retried: make this one a failed job with its first step done.
      await app.get(DataSource).query(`UPDATE jobs SET status = 'failed', error = 'test' WHERE id = $1`, [job.id]);
      await api(app).post(`/api/jobs/${job.id}/retry`).set(bearer(user.token)).expect(200);
      const again = await waitForJob(app, user.token, job.id);
      expect(again).toMatchObject({ status: 'completed', outputs: [grey, expect.any(Number)] });
      expect(again.outputs[1]).not.toBe(inverted);
      const redone = (await api(app).get(`/api/images/${again.outputs[1]}.json`).set(bearer(user.token)).expect(200)).body;
      expect(redone).toMatchObject({ image_type: 'invert', job_id: job.id, original_id: image.id });
    });
  });

  describe('replacing an original', () => {
    it('is refused (409) once the image has outputs, on every upload route, and the original stays', async () => {
      const image = await createStoredImage(app, user, 'coffee.png');
      const job = await completedJob(image.id, ['grayscale', 'histogram']);
      const [grey, chart] = job.outputs as number[];
      const reason = `Image ${image.id} has outputs (images ${grey}, ${chart} from job ${job.id}); its original cannot be replaced: upload a new image instead`;
      const files = filesUnder(join(env.DATA_DIR!, 'files'));

      expect((await putFile(image.id).expect(409)).body).toEqual({ error: reason, details: [] });
      const presign = await api(app).post(`/api/images/${image.id}/upload_url`).set(bearer(user.token)).send({}).expect(409);
      expect(presign.body.error).toBe(reason);
      const adopt = await api(app)
        .put(`/api/images/${image.id}.json`)
        .set(bearer(user.token))
        .send({ s3_key: `uploads/${image.id}/00000000-0000-4000-8000-000000000000` })
        .expect(409);
      expect(adopt.body.error).toBe(reason);

      const after = (await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200)).body;
      expect(after).toMatchObject({ s3_key: image.s3_key, sha256: image.sha256 });
      expect(filesUnder(join(env.DATA_DIR!, 'files'))).toEqual(files);
    });

    it('is refused (409) for an image another image was derived from, naming it', async () => {
      const image = await createStoredImage(app, user, 'coffee.png');
      const derived = await createImage(app, user, { original_id: image.id });
      const response = await putFile(image.id).expect(409);
      expect(response.body.error).toBe(
        `Image ${image.id} has outputs (image ${derived.id}); its original cannot be replaced: upload a new image instead`,
      );
    });

    it('is refused (409) while a job is queued or running on it, naming the job; allowed once it ended with no outputs', async () => {
      await worker?.close();
      worker = undefined;
      const image = await createStoredImage(app, user, 'coffee.png');
      const job = await createJob(app, user, { image_id: image.id, job_type: 'invert' });
      const queued = await putFile(image.id).expect(409);
      expect(queued.body.error).toBe(
        `Image ${image.id} is the source of job ${job.id}, which is queued; its original cannot be replaced while a job works on it: cancel the job or wait for it to end`,
      );
      // As a worker's claim leaves it (no worker runs in this test).
      await app.get(DataSource).query(`UPDATE jobs SET status = 'running', attempts = 1 WHERE id = $1`, [job.id]);
      const running = await api(app).post(`/api/images/${image.id}/upload_url`).set(bearer(user.token)).send({}).expect(409);
      expect(running.body.error).toMatch(new RegExp(`^Image ${image.id} is the source of job ${job.id}, which is running;`));

      await api(app).post(`/api/jobs/${job.id}/cancel`).set(bearer(user.token)).expect(200);
      const replaced = await putFile(image.id).expect(200);
      expect(replaced.body.sha256).not.toBe(image.sha256);
    });
  });
  describe('several attempts written in one statement', () => {
    it('records and completes each job under its own fence: a fenced-out, an over-quota or a raced job leaves the others whole', async () => {
      worker ??= await startTestWorker(env);
      const dataSource = app.get(DataSource);
      const outputs = worker.get(JobOutputRepository);
      const image = await createStoredImage(app, user, 'coffee.png');
      const tight = await createUser(app);
      const tightImage = await createStoredImage(app, tight, 'coffee.png');
      await dataSource.query('UPDATE users SET max_storage_bytes = storage_bytes + 10 WHERE id = $1', [tight.id]);
      const runningJob = async (owner: TestUser, imageId: number, attempts = 1) => {
        const [row] = await dataSource.query(
          `INSERT INTO jobs (status, job_type, user_id, image_id, attempts, started_at)
           VALUES ('running', '{process,grayscale,histogram}', $1, $2, $3, now()) RETURNING id, delivery_id`,
          [owner.id, imageId, attempts],
        );
        return { jobId: row.id as number, deliveryId: row.delivery_id as string, attempt: attempts };
      };
      const output = (index: number, step: string, key: string): OutputRecord => ({
        step,
        index,
        key,
        format: 'png',
        width: 4,
        height: 4,
        blurhash: 'L00000fQfQfQfQfQfQfQfQfQfQfQ',
        dominantColor: '#000000',
        bytes: 100,
        sha256: 'a'.repeat(64),
        histogram: index === 1 ? Array.from({ length: 256 }, (_, bin) => bin) : undefined,
        progress: (index + 1) * 50,
        workKey: null,
      });
      const whole = await runningJob(user, image.id);
      const raced = await runningJob(user, image.id);
      const [{ id: winner }] = await dataSource.query(
        `INSERT INTO images (status, s3_key, user_id, original_id, job_id, step_index) VALUES ('processed', $1, $2, $3, $4, 0) RETURNING id`,
        [`outputs/winner-${raced.jobId}.png`, user.id, image.id, raced.jobId],
      );
      const fencedOut = { ...(await runningJob(user, image.id, 2)), attempt: 1 };
      const overQuota = await runningJob(tight, tightImage.id);
      const steps = (fence: { jobId: number }) => [
        output(0, 'grayscale', `outputs/${fence.jobId}-0.png`),
        output(1, 'histogram', `outputs/${fence.jobId}-1.png`),
      ];

      const written = await outputs.recordAttempts(
        [whole, raced, fencedOut, overQuota].map((fence) => ({ fence, outputs: steps(fence), complete: true, keptIds: [] })),
      );

      expect(written[0]).toMatchObject({
        outcome: 'completed',
        outputs: [
          { index: 0, own: true },
          { index: 1, own: true },
        ],
      });
      expect(written[1]).toMatchObject({
        outcome: 'completed',
        outputs: [
          { index: 0, id: winner, own: false, s3Key: `outputs/winner-${raced.jobId}.png` },
          { index: 1, own: true },
        ],
      });
      expect(written[2]).toEqual({ outcome: 'fenced' });
      expect(written[3]).toEqual({
        outcome: 'refused',
        reason: expect.stringMatching(
          /^Storage quota exceeded: \d+ of \d+ bytes used, and the output of step 1 \(grayscale\) takes 100 more$/,
        ),
      });

      const jobOf = async (jobId: number) =>
        (await dataSource.query('SELECT status, progress, output_image_ids FROM jobs WHERE id = $1', [jobId]))[0];
      const idsOf = (entry: (typeof written)[number]) =>
        entry.outcome === 'completed' ? entry.outputs.map((recorded) => recorded.id) : [];
      expect(await jobOf(whole.jobId)).toEqual({ status: 'completed', progress: 100, output_image_ids: idsOf(written[0]) });
      expect(await jobOf(raced.jobId)).toEqual({ status: 'completed', progress: 100, output_image_ids: idsOf(written[1]) });
      expect(await jobOf(fencedOut.jobId)).toEqual({ status: 'running', progress: 0, output_image_ids: [] });
      expect(await jobOf(overQuota.jobId)).toEqual({ status: 'running', progress: 0, output_image_ids: [] });
      const recordedCount = async (jobId: number) =>
        Number((await dataSource.query('SELECT count(*) FROM images WHERE job_id = $1', [jobId]))[0].count);
      expect(await recordedCount(fencedOut.jobId)).toBe(0);
      expect(await recordedCount(overQuota.jobId)).toBe(0);
      const histograms = await dataSource.query('SELECT image_id FROM histograms WHERE job_id = ANY($1::int[]) ORDER BY image_id', [
        [whole.jobId, raced.jobId],
      ]);
      expect(histograms.map((row: { image_id: number }) => row.image_id)).toEqual([idsOf(written[0])[1], idsOf(written[1])[1]]);
      // One progress event a recorded step, then the completion, as when each step was recorded on its own.
      const events = await dataSource.query(`SELECT type, data->>'progress' AS progress FROM job_events WHERE job_id = $1 ORDER BY id`, [
        whole.jobId,
      ]);
      expect(events.map((event: { type: string; progress: string | null }) => `${event.type}:${event.progress}`)).toEqual([
        'status:0',
        'progress:50',
        'progress:100',
        'status:100',
      ]);
    });
  });
});
