import { createSuiteDatabase } from './utils/suite-database';
import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { createAdmin, createImage, createUser, fixture, TestUser, unique } from './utils/factories';
import { backendsAndStorages, storageFor } from './utils/storages';
import { binary, uniquePhoto } from './utils/images';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

/** astronaut.jpg whose scan names Huffman tables the file never defines: its structure passes the upload check, its decode fails. */
function undecodableJpeg(): Buffer {
  const jpeg = Buffer.from(fixture('astronaut.jpg'));
  const scan = jpeg.indexOf(Buffer.from([0xff, 0xda]));
  for (let component = 0; component < jpeg[scan + 4]; component++) jpeg[scan + 6 + 2 * component] = 0x33;
  return jpeg;
}

describe.each(backendsAndStorages())('presets and derivatives by URL, queue on $name, files on $storage', (setup) => {
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let storage: { stop(): Promise<void> } | undefined;
  let env: TestEnv;
  let admin: TestUser;
  let ada: TestUser;
  let grace: TestUser;

  beforeAll(async () => {
    // Each setup on an installation of its own: no work done on another to reuse.
    const files = await storageFor(setup.storage, 'darkroom-derivatives');
    storage = files;
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`derivatives_${setup.label}`)).url, REDIS_URL: setup.redisUrl, ...files.env });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    admin = await createAdmin(app);
    ada = await createUser(app);
    grace = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await storage?.stop();
  });

  const uploadPhoto = async (owner: TestUser, photo?: Buffer): Promise<{ id: number; bytes: number }> => {
    const image = await createImage(app, owner);
    const body = photo ?? (await uniquePhoto());
    return (
      await api(app).put(`/api/images/${image.id}/file`).set(bearer(owner.token)).set('Content-Type', 'image/jpeg').send(body).expect(200)
    ).body;
  };
  const derivative = (
    target: NestExpressApplication,
    token: string,
    imageId: number,
    preset: string,
    headers: Record<string, string> = {},
  ) => api(target).get(`/api/images/${imageId}/derivatives/${preset}`).set(bearer(token)).set(headers).buffer(true).parse(binary);
  const json = (body: Buffer) => JSON.parse(body.toString('utf8'));
  const jobsOf = async (owner: TestUser, imageId: number) =>
    ((await api(app).get('/api/jobs.json?n=all').set(bearer(owner.token)).expect(200)).body as Record<string, any>[]).filter(
      (job) => job.image_id === imageId,
    );
  const imageOf = async (owner: TestUser, id: number) =>
    (await api(app).get(`/api/images/${id}.json`).set(bearer(owner.token)).expect(200)).body;
  const usage = async (owner: TestUser) => (await api(app).get('/api/users/me.json').set(bearer(owner.token)).expect(200)).body.usage;
  const createPreset = async (body: Record<string, unknown>) =>
    (await api(app).post('/api/presets.json').set(bearer(admin.token)).send(body).expect(201)).body;

  describe('presets', () => {
    it('are seeded, listed and read by any signed-in user', async () => {
      const { body: list } = await api(app).get('/api/presets.json').set(bearer(ada.token)).expect(200);
      expect(list.map((preset: { name: string }) => preset.name)).toEqual(
        expect.arrayContaining(['thumb_256', 'medium_1024', 'square_512', 'large_2048', 'avatar_128', 'gray_1024']),
      );
      const { body: thumb } = await api(app).get('/api/presets/thumb_256.json').set(bearer(ada.token)).expect(200);
      expect(thumb).toMatchObject({
        name: 'thumb_256',
        job_type: ['process', 'thumbnail', 'convert'],
        params: { convert: { format: 'webp', quality: 80 } },
      });
      await api(app).get('/api/presets.json').expect(401);
      const missing = await api(app).get('/api/presets/no_such_preset').set(bearer(ada.token)).expect(404);
      expect(missing.body.error).toBe('No preset named "no_such_preset"');
      await api(app).get('/api/presets/%00').set(bearer(ada.token)).expect(404);
    });

    it('are created, changed and deleted by admins only, their steps checked as a job’s', async () => {
      const name = unique('p');
      const body = { name, job_type: ['resize', 'convert'], params: { resize: { width: 300 }, convert: { format: 'auto' } } };
      for (const token of [ada.token]) {
        await api(app).post('/api/presets.json').set(bearer(token)).send(body).expect(403);
        await api(app).put('/api/presets/thumb_256.json').set(bearer(token)).send({ description: 'mine' }).expect(403);
        await api(app).delete('/api/presets/thumb_256.json').set(bearer(token)).expect(403);
      }

      const refused = async (sent: Record<string, unknown>, field: string) => {
        const answer = await api(app).post('/api/presets.json').set(bearer(admin.token)).send(sent).expect(422);
        expect(answer.body.details.map((detail: { field: string }) => detail.field)).toContain(field);
      };
      await refused({ ...body, job_type: ['nope'] }, 'job_type');
      await refused({ ...body, params: { ...body.params, convert: { format: 'bmp' } } }, 'params.convert.format');
      await refused({ ...body, params: { resize: {} } }, 'params.resize.width');
      await refused({ ...body, params: { blur: { sigma: 2 } } }, 'params.blur');
      await refused({ ...body, job_type: ['query', 'median'] }, 'job_type');
      await refused({ ...body, name: 'Not A Name' }, 'name');
      await refused({ ...body, name: 'thumb_256' }, 'name');
      await refused({ name }, 'job_type');

      const created = await createPreset(body);
      expect(created).toMatchObject({
        name,
        description: null,
        job_type: ['process', 'resize', 'convert'],
        params: { resize: { width: 300 }, convert: { format: 'auto' } },
      });

      const changed = await api(app)
        .put(`/api/presets/${name}.json`)
        .set(bearer(admin.token))
        .send({ description: 'For tests', job_type: ['thumbnail'] })
        .expect(200);
      expect(changed.body).toMatchObject({ name, description: 'For tests', job_type: ['process', 'thumbnail'], params: {} });
      const paramsAlone = await api(app)
        .put(`/api/presets/${name}.json`)
        .set(bearer(admin.token))
        .send({ params: { resize: { width: 10 } } })
        .expect(422);
      expect(paramsAlone.body.details).toEqual([
        { field: 'job_type', message: 'Give job_type with params: they replace the steps together' },
      ]);
      await api(app)
        .put(`/api/presets/${name}.json`)
        .set(bearer(ADMIN_TOKEN))
        .send({ job_type: ['rotate'] })
        .expect(422);

      await api(app).delete(`/api/presets/${name}.json`).set(bearer(admin.token)).expect(200);
      await api(app).get(`/api/presets/${name}.json`).set(bearer(ada.token)).expect(404);
    });
  });

  describe('derivatives', () => {
    it('makes a cold derivative within the wait, serves it warm from the same job, and answers 304 to its ETag', async () => {
      const photo = await uploadPhoto(ada);
      const started = Date.now();
      const cold = await derivative(app, ada.token, photo.id, 'thumb_256').expect(200);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(cold.headers['content-type']).toBe('image/webp');
      expect(cold.headers.vary).toBeUndefined();
      const metadata = await sharp(cold.body).metadata();
      expect(metadata).toMatchObject({ format: 'webp', width: 256, height: 256 });

      const [job] = await jobsOf(ada, photo.id);
      expect(await jobsOf(ada, photo.id)).toHaveLength(1);
      expect(job).toMatchObject({ status: 'completed', lane: 'interactive', job_type: ['process', 'thumbnail', 'convert'] });
      const output = await imageOf(ada, job.outputs.at(-1));
      expect(cold.headers.etag).toBe(`"${output.sha256}"`);
      expect(Number(cold.headers['content-length'])).toBe(output.bytes);

      const warm = await derivative(app, ada.token, photo.id, 'thumb_256').expect(200);
      expect(warm.body.equals(cold.body)).toBe(true);
      expect(await jobsOf(ada, photo.id)).toHaveLength(1);

      const unchanged = await derivative(app, ada.token, photo.id, 'thumb_256', { 'If-None-Match': cold.headers.etag }).expect(304);
      expect(unchanged.body.length).toBe(0);
      await derivative(app, ada.token, photo.id, 'thumb_256', { 'If-None-Match': '"0000"' }).expect(200);

      // An admin sees it too, and makes no new job for it.
      await derivative(app, ADMIN_TOKEN, photo.id, 'thumb_256').expect(200);
      expect(await jobsOf(ada, photo.id)).toHaveLength(1);

      // Its file deleted, the derivative is made again, by a new job.
      await api(app).delete(`/api/images/${output.id}.json`).set(bearer(ada.token)).expect(200);
      const remade = await derivative(app, ada.token, photo.id, 'thumb_256').expect(200);
      expect(remade.body.equals(cold.body)).toBe(true);
      const jobs = await jobsOf(ada, photo.id);
      expect(jobs).toHaveLength(2);
      expect(jobs.find((made) => made.id !== job.id)).toMatchObject({ status: 'completed', reused_steps: [0] });
    }, 60_000);

    it('takes a bearer token, never the dashboard’s session cookie', async () => {
      const photo = await uploadPhoto(ada);
      const signedIn = await api(app)
        .post('/api/sessions.json')
        .send({ username: ada.username, password: ada.password, cookie: true })
        .expect(200);
      const cookie = [signedIn.headers['set-cookie'] ?? []]
        .flat()
        .find((line: string) => line.startsWith('darkroom_session='))!
        .split(';')[0];
      await api(app).get('/admin/queues').set('Cookie', cookie).expect(403);
      await api(app).get(`/api/images/${photo.id}/derivatives/thumb_256`).set('Cookie', cookie).expect(401);
      expect(await jobsOf(ada, photo.id)).toHaveLength(0);
    });

    it('refuses what it cannot make, saying what is wrong', async () => {
      const photo = await uploadPhoto(ada);
      const notYours = await derivative(app, grace.token, photo.id, 'thumb_256').expect(404);
      expect(json(notYours.body).error).toBe(`No image with id ${photo.id}`);
      const unknown = await derivative(app, ada.token, photo.id, 'no_such_preset').expect(404);
      expect(json(unknown.body).error).toBe('No preset named "no_such_preset"');
      const bare = await createImage(app, ada);
      const noFile = await derivative(app, ada.token, bare.id, 'thumb_256').expect(409);
      expect(json(noFile.body).error).toBe(`Image ${bare.id} has no stored file yet: upload it first (PUT /api/images/${bare.id}/file)`);
      await derivative(app, ada.token, 0, 'thumb_256').expect(404);
      await api(app).get(`/api/images/${photo.id}/derivatives/thumb_256`).expect(401);
      expect(await jobsOf(ada, photo.id)).toHaveLength(0);

      const full = await uploadPhoto(grace);
      await api(app)
        .put(`/api/users/${grace.id}.json`)
        .set(bearer(ADMIN_TOKEN))
        .send({ max_storage_bytes: (await usage(grace)).storage_bytes + 100 })
        .expect(200);
      const tooBig = await derivative(app, grace.token, full.id, 'medium_1024').expect(413);
      expect(json(tooBig.body).error).toMatch(
        /^Job \d+, making this derivative, failed: Storage quota exceeded: .*; make room, then request it again$/,
      );
      await api(app).put(`/api/users/${grace.id}.json`).set(bearer(ADMIN_TOKEN)).send({ max_storage_bytes: null }).expect(200);
      await derivative(app, grace.token, full.id, 'medium_1024').expect(200);

      const corrupt = await uploadPhoto(ada, undecodableJpeg());
      const failed = await derivative(app, ada.token, corrupt.id, 'thumb_256').expect(422);
      expect(json(failed.body).error).toMatch(new RegExp(`^Image ${corrupt.id} is corrupt: `));
      const again = await derivative(app, ada.token, corrupt.id, 'thumb_256').expect(422);
      expect(json(again.body).error).toMatch(new RegExp(`^Image ${corrupt.id} is corrupt: `));
    }, 60_000);

    it('lists the derivative’s images as outputs of the original and counts them, and deletes them with the original', async () => {
      const photo = await uploadPhoto(ada);
      const before = await usage(ada);
      await derivative(app, ada.token, photo.id, 'gray_1024').expect(200);
      const [job] = await jobsOf(ada, photo.id);
      expect(job.outputs).toHaveLength(3);
      const outputs = await Promise.all(job.outputs.map((id: number) => imageOf(ada, id)));
      for (const output of outputs) expect(output).toMatchObject({ original_id: photo.id, job_id: job.id, user_id: ada.id });
      const { body: listed } = await api(app).get('/api/images.json?n=all').set(bearer(ada.token)).expect(200);
      expect(listed.map((image: { id: number }) => image.id)).toEqual(expect.arrayContaining(job.outputs));
      const outputBytes = outputs.reduce((sum, output) => sum + output.bytes, 0);
      expect((await usage(ada)).storage_bytes - before.storage_bytes).toBe(outputBytes);
      await derivative(app, grace.token, job.outputs[2], 'thumb_256').expect(404);

      // An output of another job of the same original outlives it (images_original_id_fkey is ON
      // DELETE SET NULL); the derivative's images go with it, and so do their bytes and its URL.
      const { body: other } = await api(app)
        .post('/api/jobs.json')
        .set(bearer(ada.token))
        .send({ image_id: photo.id, job_type: ['process', 'invert'] })
        .expect(201);
      const kept = await waitForJob(app, ada.token, other.id);
      const keptBytes = (await imageOf(ada, kept.outputs[0])).bytes;
      await api(app).delete(`/api/images/${photo.id}.json`).set(bearer(ada.token)).expect(200);
      for (const id of job.outputs) await api(app).get(`/api/images/${id}.json`).set(bearer(ada.token)).expect(404);
      expect(await imageOf(ada, kept.outputs[0])).toMatchObject({ original_id: null, job_id: other.id });
      expect((await usage(ada)).storage_bytes).toBe(before.storage_bytes - photo.bytes + keptBytes);
      expect((await api(app).get(`/api/jobs/${job.id}.json`).set(bearer(ada.token)).expect(200)).body.outputs).toEqual([]);
      await derivative(app, ada.token, photo.id, 'gray_1024').expect(404);
    }, 60_000);

    it('gives concurrent first requests one job', async () => {
      const photo = await uploadPhoto(ada);
      const answers = await Promise.all([1, 2, 3].map(() => derivative(app, ada.token, photo.id, 'square_512', { Accept: 'image/webp' })));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.body.equals(answers[0].body)).toBe(true);
      }
      expect(await jobsOf(ada, photo.id)).toHaveLength(1);
    }, 60_000);

    it('makes a changed preset’s derivative anew, and serves the earlier file again for the earlier steps', async () => {
      const name = unique('p');
      await createPreset({ name, job_type: ['thumbnail', 'convert'], params: { convert: { format: 'webp', quality: 80 } } });
      const photo = await uploadPhoto(ada);
      const first = await derivative(app, ada.token, photo.id, name).expect(200);

      const change = (quality: number) =>
        api(app)
          .put(`/api/presets/${name}.json`)
          .set(bearer(admin.token))
          .send({ job_type: ['thumbnail', 'convert'], params: { convert: { format: 'webp', quality } } })
          .expect(200);
      await change(20);
      const second = await derivative(app, ada.token, photo.id, name).expect(200);
      expect(second.body.equals(first.body)).toBe(false);
      expect(second.headers.etag).not.toBe(first.headers.etag);
      expect(second.body.length).toBeLessThan(first.body.length);
      const jobs = await jobsOf(ada, photo.id);
      expect(jobs).toHaveLength(2);
      expect(jobs.map((job) => job.params.convert.quality).sort()).toEqual([20, 80]);

      await change(80);
      const third = await derivative(app, ada.token, photo.id, name).expect(200);
      expect(third.body.equals(first.body)).toBe(true);
      expect(await jobsOf(ada, photo.id)).toHaveLength(2);
    }, 60_000);

    it('makes the presets an upload names at once, as one interactive job of branches, which their first requests then find', async () => {
      const photo = await uniquePhoto();
      const upload = () =>
        api(app)
          .post('/api/images.json')
          .set(bearer(ada.token))
          .field('presets', 'thumb_256, avatar_128')
          .attach('file', photo, 'photo.jpg');
      const { body: image } = await upload().expect(201);
      const made = await jobsOf(ada, image.id);
      expect(made).toHaveLength(1);
      const [eager] = made;
      expect(eager).toMatchObject({ lane: 'interactive', job_type: ['process', 'thumbnail', 'convert', 'resize', 'convert'] });
      // Both presets convert, each with its own params; format "auto" becomes WebP with no request to negotiate with.
      expect(eager.params).toEqual({
        branches: [
          { steps: ['thumbnail', 'convert'], params: { convert: { format: 'webp', quality: 80 } } },
          {
            steps: ['resize', 'convert'],
            params: { resize: { width: 128, height: 128, fit: 'cover' }, convert: { format: 'webp', quality: 75 } },
          },
        ],
      });

      const thumb = await derivative(app, ada.token, image.id, 'thumb_256').expect(200);
      expect(thumb.headers['content-type']).toBe('image/webp');
      expect(await sharp(thumb.body).metadata()).toMatchObject({ format: 'webp', width: 256, height: 256 });
      const avatar = await derivative(app, ada.token, image.id, 'avatar_128', { Accept: 'image/webp' }).expect(200);
      expect(await sharp(avatar.body).metadata()).toMatchObject({ format: 'webp', width: 128, height: 128 });
      const done = await waitForJob(app, ada.token, eager.id);
      expect(done.outputs).toHaveLength(4);
      const outputs = await Promise.all(done.outputs.map((id: number) => imageOf(ada, id)));
      for (const output of outputs) expect(output).toMatchObject({ original_id: image.id, job_id: eager.id });
      expect(outputs.map((output) => output.width)).toEqual([256, 256, 128, 128]);
      expect(thumb.headers.etag).toBe(`"${outputs[1].sha256}"`);
      expect(avatar.headers.etag).toBe(`"${outputs[3].sha256}"`);
      expect(await jobsOf(ada, image.id)).toHaveLength(1);

      // The same photo again: each branch's work is found done from the original, and the job completes as it is created.
      const { body: copy } = await upload().expect(201);
      const [reused, ...more] = await jobsOf(ada, copy.id);
      expect(more).toEqual([]);
      expect(reused).toMatchObject({ status: 'completed', attempts: 0, reused_steps: [0, 1, 2, 3], job_type: eager.job_type });
      const copied = await derivative(app, ada.token, copy.id, 'avatar_128', { Accept: 'image/webp' }).expect(200);
      expect(copied.headers.etag).toBe(avatar.headers.etag);

      // One derivative's file deleted: that one is made again by a job of its own, the other still served from the eager job.
      await api(app).delete(`/api/images/${outputs[1].id}.json`).set(bearer(ada.token)).expect(200);
      const remade = await derivative(app, ada.token, image.id, 'thumb_256').expect(200);
      expect(remade.body.equals(thumb.body)).toBe(true);
      const again = await derivative(app, ada.token, image.id, 'avatar_128', { Accept: 'image/webp' }).expect(200);
      expect(again.headers.etag).toBe(avatar.headers.etag);
      const jobs = await jobsOf(ada, image.id);
      expect(jobs).toHaveLength(2);
      // Both steps' files are still stored, the second for the copy's output.
      expect(jobs.find((job) => job.id !== eager.id)).toMatchObject({
        job_type: ['process', 'thumbnail', 'convert'],
        reused_steps: [0, 1],
      });
    }, 60_000);

    it('makes a changed preset anew after an eager job made it, and the eager job’s other derivatives stay', async () => {
      const name = unique('p');
      await createPreset({ name, job_type: ['grayscale', 'convert'], params: { convert: { format: 'jpeg', quality: 90 } } });
      const { body: image } = await api(app)
        .post('/api/images.json')
        .set(bearer(ada.token))
        .field('presets', `${name},thumb_256`)
        .attach('file', await uniquePhoto(), 'photo.jpg')
        .expect(201);
      const [eager, ...others] = await jobsOf(ada, image.id);
      expect(others).toEqual([]);
      expect(eager.job_type).toEqual(['process', 'grayscale', 'convert', 'thumbnail', 'convert']);
      const first = await derivative(app, ada.token, image.id, name).expect(200);
      expect(first.headers['content-type']).toBe('image/jpeg');
      // The thumbnail's branch starts from the original, not from the grayscale branch's output.
      const [red, , blue] = (await sharp((await derivative(app, ada.token, image.id, 'thumb_256').expect(200)).body).stats()).channels;
      expect(red.mean - blue.mean).toBeGreaterThan(20);
      expect(await jobsOf(ada, image.id)).toHaveLength(1);

      await api(app)
        .put(`/api/presets/${name}.json`)
        .set(bearer(admin.token))
        .send({ job_type: ['grayscale', 'convert'], params: { convert: { format: 'jpeg', quality: 20 } } })
        .expect(200);
      const changed = await derivative(app, ada.token, image.id, name).expect(200);
      expect(changed.body.length).toBeLessThan(first.body.length);
      const jobs = await jobsOf(ada, image.id);
      expect(jobs).toHaveLength(2);
      expect(jobs.find((job) => job.id !== eager.id)).toMatchObject({
        job_type: ['process', 'grayscale', 'convert'],
        params: { convert: { quality: 20 } },
      });
      await derivative(app, ada.token, image.id, 'thumb_256').expect(200);
      expect(await jobsOf(ada, image.id)).toHaveLength(2);
    }, 60_000);

    it('makes each derivative of a cancelled eager job anew on its first request', async () => {
      await api(app).post('/api/queues/process/pause.json').set(bearer(ADMIN_TOKEN)).expect(200);
      try {
        const { body: image } = await api(app)
          .post('/api/images.json')
          .set(bearer(ada.token))
          .field('presets', 'thumb_256,square_512')
          .attach('file', await uniquePhoto(), 'photo.jpg')
          .expect(201);
        const [eager] = await jobsOf(ada, image.id);
        await api(app).post(`/api/jobs/${eager.id}/cancel`).set(bearer(ada.token)).expect(200);
        await api(app).post('/api/queues/process/resume.json').set(bearer(ADMIN_TOKEN)).expect(200);
        await derivative(app, ada.token, image.id, 'thumb_256').expect(200);
        await derivative(app, ada.token, image.id, 'square_512', { Accept: 'image/webp' }).expect(200);
        const jobs = await jobsOf(ada, image.id);
        expect(jobs.map((job) => job.job_type.slice(1).join(',')).sort()).toEqual([
          'resize,convert',
          'thumbnail,convert',
          'thumbnail,convert,resize,convert',
        ]);
      } finally {
        await api(app).post('/api/queues/process/resume.json').set(bearer(ADMIN_TOKEN));
      }
    }, 60_000);

    it('lets a client create a job of branches itself, checked as any job, whose outputs are one per step', async () => {
      const photo = await uploadPhoto(ada);
      const create = (body: Record<string, unknown>) =>
        api(app)
          .post('/api/jobs.json')
          .set(bearer(ada.token))
          .send({ image_id: photo.id, ...body });
      const { body: job } = await create({
        job_type: ['grayscale', 'flip', 'convert'],
        params: { branches: [{ steps: ['grayscale'] }, { steps: ['flip', 'convert'], params: { convert: { format: 'webp' } } }] },
      }).expect(201);
      expect(job.job_type).toEqual(['process', 'grayscale', 'flip', 'convert']);
      const done = await waitForJob(app, ada.token, job.id);
      expect(done).toMatchObject({ status: 'completed', progress: 100 });
      const outputs = await Promise.all(done.outputs.map((id: number) => imageOf(ada, id)));
      expect(outputs.map((output) => output.format)).toEqual(['png', 'png', 'webp']);
      // The flip's branch starts from the original: in colour.
      const flipped = await api(app)
        .get(`/api/images/${done.outputs[1]}/file`)
        .set(bearer(ada.token))
        .buffer(true)
        .parse(binary)
        .expect(200);
      const [red, , blue] = (await sharp(flipped.body).stats()).channels;
      expect(red.mean - blue.mean).toBeGreaterThan(20);

      const refused = await create({
        job_type: ['grayscale', 'convert'],
        params: { branches: [{ steps: ['grayscale'] }, { steps: ['convert'], params: { convert: { format: 'gif' } } }] },
      }).expect(422);
      expect(refused.body.details.map((detail: { field: string }) => detail.field)).toEqual(['params.branches[1].params.convert.format']);
      const mismatched = await create({
        job_type: ['grayscale'],
        params: { branches: [{ steps: ['grayscale'] }, { steps: ['flip'] }] },
      }).expect(422);
      expect(mismatched.body.details[0].field).toBe('job_type');
    }, 60_000);

    it('keeps the presets a JSON create names until its file arrives, and makes those of its image type', async () => {
      const { body: record } = await api(app)
        .post('/api/images.json')
        .set(bearer(ada.token))
        .send({ presets: ['thumb_256'] })
        .expect(201);
      expect(await jobsOf(ada, record.id)).toHaveLength(0);
      await api(app)
        .put(`/api/images/${record.id}/file`)
        .set(bearer(ada.token))
        .set('Content-Type', 'image/jpeg')
        .send(await uniquePhoto())
        .expect(200);
      expect((await jobsOf(ada, record.id)).map((job) => job.job_type)).toEqual([['process', 'thumbnail', 'convert']]);

      const typeName = unique('t');
      const { body: type } = await api(app)
        .post('/api/image_types.json')
        .set(bearer(admin.token))
        .send({ type_name: typeName, presets: ['gray_1024'] })
        .expect(201);
      expect(type.presets).toEqual(['gray_1024']);
      const { body: typed } = await api(app)
        .post('/api/images.json')
        .set(bearer(ada.token))
        .field('image_type', typeName)
        .attach('file', await uniquePhoto(), 'photo.jpg')
        .expect(201);
      expect((await jobsOf(ada, typed.id)).map((job) => job.job_type)).toEqual([['process', 'grayscale', 'resize', 'convert']]);
    }, 60_000);

    it('refuses presets that do not exist, storing nothing', async () => {
      const before = (await api(app).get('/api/images.json?n=all').set(bearer(grace.token)).expect(200)).body.length;
      const unknown = await api(app)
        .post('/api/images.json')
        .set(bearer(grace.token))
        .field('presets', 'thumb_256,no_such_preset')
        .attach('file', await uniquePhoto(), 'photo.jpg')
        .expect(422);
      expect(unknown.body.details).toEqual([
        { field: 'presets', message: expect.stringMatching(/"no_such_preset" is not a preset; known: .*thumb_256/) },
      ]);
      const malformed = await api(app)
        .post('/api/images.json')
        .set(bearer(grace.token))
        .send({ presets: ['Thumb 256'] })
        .expect(422);
      expect(malformed.body.details[0].field).toBe('presets');
      const tooMany = await api(app)
        .post('/api/images.json')
        .set(bearer(grace.token))
        .send({ presets: Array.from({ length: 9 }, (_, i) => `p${i}`) })
        .expect(422);
      expect(tooMany.body.details[0].message).toMatch(/at most 8/);
      expect((await api(app).get('/api/images.json?n=all').set(bearer(grace.token)).expect(200)).body).toHaveLength(before);
      const badType = await api(app)
        .post('/api/image_types.json')
        .set(bearer(admin.token))
        .send({ type_name: unique('t'), presets: ['no_such_preset'] })
        .expect(422);
      expect(badType.body.details[0].field).toBe('presets');
    });

    it('chooses AVIF, WebP or JPEG from the Accept header for format "auto", with Vary: Accept', async () => {
      const photo = await uploadPhoto(ada);
      const cases: [string | undefined, string, string][] = [
        ['image/avif,image/webp,image/apng,*/*;q=0.8', 'image/avif', 'heif'],
        ['image/webp,*/*;q=0.8', 'image/webp', 'webp'],
        ['*/*', 'image/jpeg', 'jpeg'],
        [undefined, 'image/jpeg', 'jpeg'],
        ['image/avif;q=0, image/webp', 'image/webp', 'webp'],
      ];
      for (const [accept, mime, format] of cases) {
        const answer = await derivative(app, ada.token, photo.id, 'avatar_128', accept ? { Accept: accept } : {}).expect(200);
        expect(answer.headers['content-type']).toBe(mime);
        expect(answer.headers.vary).toBe('Accept');
        expect(await sharp(answer.body).metadata()).toMatchObject({ format, width: 128, height: 128 });
      }
      // One job per format: the two JPEG requests, and the two WebP ones, shared theirs.
      expect(await jobsOf(ada, photo.id)).toHaveLength(3);
    }, 90_000);

    it('answers 202 with the job’s URL and Retry-After when the job has not ended within DERIVATIVE_WAIT', async () => {
      const impatient = await createTestApp({ ...env, DERIVATIVE_WAIT: '0.2' });
      try {
        await api(app).post('/api/queues/process/pause.json').set(bearer(ADMIN_TOKEN)).expect(200);
        const photo = await uploadPhoto(ada);
        const pending = await derivative(impatient, ada.token, photo.id, 'medium_1024', { Accept: 'image/webp' }).expect(202);
        const body = json(pending.body);
        expect(body).toEqual({ job_id: expect.any(Number), status: 'queued', job_url: `/api/jobs/${body.job_id}.json`, retry_after: 1 });
        expect(pending.headers).toMatchObject({ 'retry-after': '1', location: `/api/jobs/${body.job_id}.json`, vary: 'Accept' });
        const still = await derivative(impatient, ada.token, photo.id, 'medium_1024', { Accept: 'image/webp' }).expect(202);
        expect(json(still.body).job_id).toBe(body.job_id);
        await api(app).get(body.job_url).set(bearer(ada.token)).expect(200);

        await api(app).post('/api/queues/process/resume.json').set(bearer(ADMIN_TOKEN)).expect(200);
        const made = await derivative(app, ada.token, photo.id, 'medium_1024', { Accept: 'image/webp' }).expect(200);
        expect(made.headers['content-type']).toBe('image/webp');
        expect(await sharp(made.body).metadata()).toMatchObject({ format: 'webp', width: 1024, height: 1024 });
        expect((await jobsOf(ada, photo.id)).map((job) => job.id)).toEqual([body.job_id]);
      } finally {
        await api(app).post('/api/queues/process/resume.json').set(bearer(ADMIN_TOKEN));
        await impatient.close();
      }
    }, 60_000);
  });
});
