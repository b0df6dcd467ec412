import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { DataSource } from 'typeorm';
import { createImage, createUser, fixture, TestUser } from './utils/factories';
import { binary } from './utils/images';
import {
  colourDistance,
  DOMINANT_TOLERANCE,
  dominantReference,
  levelsOf,
  MEAN_TOLERANCE,
  placeholderDistance,
  QUADRANT_TOLERANCE,
} from './utils/placeholders';
import { StorageDriver } from '../src/storage/storage.driver';
import { backendsAndStorages, storageFor } from './utils/storages';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

type ImageJson = Record<string, any>;

/** Every image's JSON carries its oriented size and placeholders: originals from the worker's decode, outputs as they are written. */
describe.each(backendsAndStorages())('placeholders, queue on $name, files on $storage', (setup) => {
  let env: TestEnv;
  let storage: { stop(): Promise<void> } | undefined;
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let user: TestUser;

  beforeAll(async () => {
    // A database of its own: the worker's pass over stored files reads every image of the installation.
    const files = await storageFor(setup.storage, 'darkroom-placeholders');
    storage = files;
    env = testEnv({
      DATABASE_URL: (await createSuiteDatabase(`placeholders_${setup.label}`)).url,
      REDIS_URL: setup.redisUrl,
      VERIFY_DELAY: '1',
      ...files.env,
    });
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    user = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await storage?.stop();
  });

  const imageOf = async (id: number): Promise<ImageJson> =>
    (await api(app).get(`/api/images/${id}.json`).set(bearer(user.token)).expect(200)).body;
  const fileOf = async (id: number) =>
    (await api(app).get(`/api/images/${id}/file`).set(bearer(user.token)).buffer(true).parse(binary).expect(200)).body as Buffer;
  const upload = async (name: string): Promise<ImageJson> => {
    const image = await createImage(app, user);
    return (
      await api(app)
        .put(`/api/images/${image.id}/file`)
        .set(bearer(user.token))
        .set('Content-Type', name.endsWith('.png') ? 'image/png' : 'image/jpeg')
        .send(fixture(name))
        .expect(200)
    ).body;
  };
  /** The image once the worker has given it placeholders (its pass runs every VERIFY_DELAY, 1 s here). */
  const withPlaceholders = async (id: number): Promise<ImageJson> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const image = await imageOf(id);
      if (image.blurhash !== null) return image;
      if (Date.now() > deadline) throw new Error(`Image ${id} still has no placeholders: ${JSON.stringify(image)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  /** The image's placeholders against the references' decode of its pixels, and its size against the file's. */
  const expectFactsOf = async (image: ImageJson, photo: Buffer) => {
    const { autoOrient } = await sharp(photo).metadata();
    expect({ width: image.width, height: image.height }).toEqual(autoOrient);
    const distance = await placeholderDistance(photo, image.blurhash);
    expect(distance.mean).toBeLessThanOrEqual(MEAN_TOLERANCE);
    expect(distance.quadrants).toBeLessThanOrEqual(QUADRANT_TOLERANCE);
    expect(image.dominant_color).toMatch(/^#[0-9a-f]{6}$/);
    expect(colourDistance(levelsOf(image.dominant_color), await dominantReference(photo))).toBeLessThanOrEqual(DOMINANT_TOLERANCE);
  };

  it('shows an upload without placeholders, then the worker decodes it: oriented size, BlurHash and dominant colour', async () => {
    const sideways = await upload('astronaut-orientation-6.jpg');
    // The API only checks the upload's structure: the header's size, as stored, and no placeholders yet.
    expect(sideways).toMatchObject({ width: 256, height: 160, blurhash: null, dominant_color: null });
    const others = await Promise.all(['astronaut.jpg', 'coffee.png'].map(upload));

    const upright = await withPlaceholders(sideways.id);
    expect(upright).toMatchObject({ width: 160, height: 256, status: 'original stored' });
    await expectFactsOf(upright, fixture('astronaut-orientation-6.jpg'));
    for (const [index, name] of ['astronaut.jpg', 'coffee.png'].entries()) {
      await expectFactsOf(await withPlaceholders(others[index].id), fixture(name));
    }
  });

  it('gives every output the facts of its own pixels as it is written, and the same to a reused one', async () => {
    const source = await upload('astronaut-orientation-6.jpg');
    const steps = ['process', 'thumbnail', 'grayscale', 'convert'];
    const params = { convert: { format: 'webp', quality: 80 } };
    const created = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: source.id, job_sequence: steps, params });
    expect(created.status).toBe(201);
    const job = await waitForJob(app, user.token, created.body.id);
    expect(job).toMatchObject({ status: 'completed' });
    const outputs = await Promise.all(job.outputs.map(imageOf));
    expect(outputs.map((output) => output.format)).toEqual(['jpeg', 'png', 'webp']);
    for (const output of outputs) {
      expect(output.blurhash).not.toBeNull();
      await expectFactsOf(output, await fileOf(output.id));
    }

    const again = await waitForJob(
      app,
      user.token,
      (await api(app).post('/api/jobs.json').set(bearer(user.token)).send({ image_id: source.id, job_sequence: steps, params }).expect(201))
        .body.id,
    );
    expect(again.reused_steps).toEqual([0, 1, 2]);
    const reused = await Promise.all(again.outputs.map(imageOf));
    const facts = (image: ImageJson) => [image.width, image.height, image.blurhash, image.dominant_color];
    expect(reused.map(facts)).toEqual(outputs.map(facts));

    // The job decoded its source: the worker's pass gives it its own facts, upright.
    const original = await withPlaceholders(source.id);
    expect(original).toMatchObject({ width: 160, height: 256 });
    await expectFactsOf(original, fixture('astronaut-orientation-6.jpg'));
  });

  it('answers the same fields in a list, a page and a single read', async () => {
    const image = await withPlaceholders((await upload('coffee.png')).id);
    const streamed = (await api(app).get('/api/images.json?n=all').set(bearer(user.token)).expect(200)).body as ImageJson[];
    const paged = (
      await api(app)
        .get(`/api/images.json?after_id=${image.id - 1}&n=1`)
        .set(bearer(user.token))
        .expect(200)
    ).body;
    expect(streamed.find((row) => row.id === image.id)).toEqual(image);
    expect(paged).toEqual([image]);
    expect(Object.keys(image)).toEqual(expect.arrayContaining(['width', 'height', 'blurhash', 'dominant_color']));
  });

  it('gives images stored before placeholders existed theirs, in the background, past a file that no longer decodes', async () => {
    const source = await withPlaceholders((await upload('coffee.png')).id);
    const outputOf = async (step: string) => {
      const created = await api(app)
        .post('/api/jobs.json')
        .set(bearer(user.token))
        .send({ image_id: source.id, job_sequence: ['process', step] })
        .expect(201);
      return imageOf((await waitForJob(app, user.token, created.body.id)).outputs[0]);
    };
    // The broken file comes first in id order: the pass must go on past it.
    const broken = await outputOf('flop');
    const output = await outputOf('flip');
    await app.get(StorageDriver).put(broken.s3_key, Buffer.from('no longer an image'), 'image/png');
    const before = [source, output];
    // As the upgrade leaves them: no placeholders.
    await app
      .get(DataSource)
      .query('UPDATE images SET blurhash = NULL, dominant_color = NULL WHERE id = ANY($1)', [[...before, broken].map((image) => image.id)]);
    expect(await imageOf(output.id)).toMatchObject({ blurhash: null, dominant_color: null });
    const after = await Promise.all(before.map((image) => withPlaceholders(image.id)));
    const facts = (image: ImageJson) => [image.width, image.height, image.blurhash, image.dominant_color];
    expect(after.map(facts)).toEqual(before.map(facts));
    expect(await imageOf(broken.id)).toMatchObject({ status: 'processed', blurhash: null, dominant_color: null });
  });
});
