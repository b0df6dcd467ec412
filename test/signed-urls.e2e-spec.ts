import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { encodeFreeFormSteps } from '../src/signed-urls/free-form-steps';
import { UrlSigner } from '../src/signed-urls/url-signature';
import { parsePresetSteps } from '../src/pipelines/preset-steps';
import { createImage, createUser, TestUser } from './utils/factories';
import { binary, uniquePhoto } from './utils/images';
import { backendsAndStorages, storageFor } from './utils/storages';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv } from './utils/test-app';

const OLD_KEY = 'old-signing-key-0123456789abcdefghijklmnop';
const NEW_KEY = 'new-signing-key-0123456789abcdefghijklmnop';

/** The path and query of an issued URL: the tests ask the app in-process. */
const pathOf = (url: string) => {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
};

describe.each(backendsAndStorages())('signed public URLs of derivatives, queue on $name, files on $storage', (setup) => {
  let env: TestEnv;
  let storage: { stop(): Promise<void> } | undefined;
  let app: NestExpressApplication;
  let worker: INestApplicationContext;
  let ada: TestUser;
  let grace: TestUser;
  let imageId: number;

  beforeAll(async () => {
    const files = await storageFor(setup.storage, 'darkroom-signed-urls');
    storage = files;
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`signed_urls_${setup.label}`)).url, REDIS_URL: setup.redisUrl, ...files.env });
    app = await createTestApp({ ...env, URL_SIGNING_KEY: OLD_KEY });
    worker = await startTestWorker(env);
    ada = await createUser(app);
    grace = await createUser(app);
    const image = await createImage(app, ada);
    await api(app)
      .put(`/api/images/${image.id}/file`)
      .set(bearer(ada.token))
      .set('Content-Type', 'image/jpeg')
      .send(await uniquePhoto())
      .expect(200);
    imageId = image.id;
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await storage?.stop();
  });

  const issue = (target: NestExpressApplication, body: Record<string, unknown> = {}, owner = ada, id = imageId, preset = 'thumb_256') =>
    api(target).post(`/api/images/${id}/derivatives/${preset}/url`).set(bearer(owner.token)).send(body);
  const fetchPublic = (target: NestExpressApplication, path: string, headers: Record<string, string> = {}) =>
    api(target).get(path).set(headers).buffer(true).parse(binary);

  it('are issued to the owner only, for a preset that exists, with a checked expiry', async () => {
    const { body } = await issue(app).expect(200);
    expect(body.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/r/[A-Za-z0-9_-]{43}/thumb_256/${imageId}$`));
    expect(body.expires_at).toBeNull();
    await issue(app, {}, grace).expect(404);
    const unknown = await issue(app, {}, ada, imageId, 'no_such_preset').expect(404);
    expect(unknown.body.error).toMatch(/no_such_preset/);
    for (const expires_in of [0, 59, 31_536_001, 'soon', 1.5]) {
      const refused = await issue(app, { expires_in }).expect(422);
      expect(refused.body.details).toEqual([expect.objectContaining({ field: 'expires_in' })]);
    }
    const expiring = await issue(app, { expires_in: 3600 }).expect(200);
    expect(expiring.body.url).toMatch(/\?expires=\d+$/);
    expect(Date.parse(expiring.body.expires_at) - Date.now()).toBeGreaterThan(3590_000);
    await api(app).post(`/api/images/${imageId}/derivatives/thumb_256/url`).send({}).expect(401);
  });

  it('serve the derivative without credentials, cacheable for a year, with ETag, 304 and Range', async () => {
    const path = pathOf((await issue(app).expect(200)).body.url);
    const first = await fetchPublic(app, path).expect(200);
    expect(first.headers['content-type']).toBe('image/webp');
    expect(first.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await sharp(first.body).metadata()).format).toBe('webp');
    const bearerAnswer = await api(app)
      .get(`/api/images/${imageId}/derivatives/thumb_256`)
      .set(bearer(ada.token))
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(bearerAnswer.headers['cache-control']).toBe('private, no-cache');
    expect(Buffer.compare(bearerAnswer.body, first.body)).toBe(0);

    const etag = first.headers.etag;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const unchanged = await fetchPublic(app, path, { 'If-None-Match': etag }).expect(304);
    expect(unchanged.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const part = await fetchPublic(app, path, { Range: 'bytes=10-19' }).expect(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${first.body.length}`);
    expect(Buffer.compare(part.body, first.body.subarray(10, 20))).toBe(0);
  });

  it('answer 403 to a forged, altered or expired URL, before looking for the image', async () => {
    const path = pathOf((await issue(app).expect(200)).body.url);
    const [, , signature, preset] = path.split('/');
    const forged = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const refusals = [
      `/r/${forged}/${preset}/${imageId}`,
      `/r/${signature}/medium_1024/${imageId}`,
      `/r/${signature}/${preset}/${imageId + 1}`,
      `/r/${signature}/${preset}/${imageId}?expires=9999999999`,
      `/r/${signature}/${preset}/${imageId}?expires=soon`,
      `/r/short/${preset}/${imageId}`,
      // No image has this id: the signature is refused first, so nothing tells whether it exists.
      `/r/${signature}/${preset}/999999999`,
    ];
    for (const refused of refusals) {
      const answer = await fetchPublic(app, refused).expect(403);
      expect(JSON.parse(answer.body.toString('utf8')).error).toMatch(/signature is not valid/);
    }

    const expires = Math.floor(Date.now() / 1000) - 1;
    const expiredSignature = new UrlSigner(Buffer.from(OLD_KEY)).sign({ preset: 'thumb_256', imageId, expires });
    const expired = await fetchPublic(app, `/r/${expiredSignature}/thumb_256/${imageId}?expires=${expires}`).expect(403);
    expect(JSON.parse(expired.body.toString('utf8')).error).toMatch(/expired at/);
  });

  it('keep working across a key rotation while the old key is listed as previous', async () => {
    const oldPath = pathOf((await issue(app).expect(200)).body.url);
    const rotated = await createTestApp({ ...env, URL_SIGNING_KEY: NEW_KEY, URL_SIGNING_KEY_PREVIOUS: OLD_KEY });
    const retired = await createTestApp({ ...env, URL_SIGNING_KEY: NEW_KEY });
    try {
      await fetchPublic(rotated, oldPath).expect(200);
      const newPath = pathOf((await issue(rotated).expect(200)).body.url);
      expect(newPath).not.toBe(oldPath);
      await fetchPublic(rotated, newPath).expect(200);
      await fetchPublic(retired, oldPath).expect(403);
      await fetchPublic(retired, newPath).expect(200);
    } finally {
      await rotated.close();
      await retired.close();
    }
  });

  it('are signed with the installation’s own key when URL_SIGNING_KEY is unset, alike on every node', async () => {
    const nodeA = await createTestApp(env);
    const nodeB = await createTestApp(env);
    try {
      const path = pathOf((await issue(nodeA).expect(200)).body.url);
      await fetchPublic(nodeB, path).expect(200);
      await fetchPublic(app, path).expect(403);
    } finally {
      await nodeA.close();
      await nodeB.close();
    }
  });

  describe('STRICT_PRESETS', () => {
    const steps = { job_type: ['resize', 'convert'], params: { resize: { width: 200 }, convert: { format: 'png' } } };
    const issueSteps = (target: NestExpressApplication, body: Record<string, unknown>, owner = ada) =>
      api(target).post(`/api/images/${imageId}/derivatives/url`).set(bearer(owner.token)).send(body);
    let loose: NestExpressApplication;

    beforeAll(async () => {
      loose = await createTestApp({ ...env, URL_SIGNING_KEY: OLD_KEY, STRICT_PRESETS: 'false' });
    });

    afterAll(async () => {
      await loose?.close();
    });

    it('on, the default: free-form steps are neither issued nor served, even under a good signature', async () => {
      const refused = await issueSteps(app, steps).expect(403);
      expect(refused.body.error).toMatch(/STRICT_PRESETS/);
      const segment = encodeFreeFormSteps(parsePresetSteps(steps));
      const signature = new UrlSigner(Buffer.from(OLD_KEY)).sign({ preset: segment, imageId, expires: null });
      const served = await fetchPublic(app, `/r/${signature}/${segment}/${imageId}`).expect(403);
      expect(JSON.parse(served.body.toString('utf8')).error).toMatch(/STRICT_PRESETS/);
    });

    it('off: the owner has free-form steps signed, checked as a preset’s, and anyone holding the URL gets them made', async () => {
      const { body } = await issueSteps(loose, { ...steps, expires_in: 3600 }).expect(200);
      expect(body.url).toMatch(new RegExp(`/r/[A-Za-z0-9_-]{43}/~[A-Za-z0-9_-]+/${imageId}\\?expires=\\d+$`));
      const path = pathOf(body.url);
      const made = await fetchPublic(loose, path).expect(200);
      expect(made.headers['content-type']).toBe('image/png');
      expect(made.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(await sharp(made.body).metadata()).toEqual(expect.objectContaining({ format: 'png', width: 200 }));
      // The URL was signed for these steps and no others; and a strict node refuses it.
      const [, , signature, , , query] = path.split(/[/?]/);
      const other = encodeFreeFormSteps(parsePresetSteps({ ...steps, params: { resize: { width: 4000 }, convert: { format: 'png' } } }));
      const altered = await fetchPublic(loose, `/r/${signature}/${other}/${imageId}?${query}`).expect(403);
      expect(JSON.parse(altered.body.toString('utf8')).error).toMatch(/signature is not valid/);
      await fetchPublic(app, path).expect(403);

      await issueSteps(loose, steps, grace).expect(404);
      const unknown = await issueSteps(loose, { job_type: ['levitate'] }).expect(422);
      expect(unknown.body.details).toEqual([expect.objectContaining({ field: 'job_type' })]);
      const badParams = await issueSteps(loose, { job_type: ['resize'], params: { resize: { width: -1 } } }).expect(422);
      expect(badParams.body.error).toMatch(/width/);
      await issueSteps(loose, { params: {} }).expect(422);
    });

    it('off: free-form steps equal to a preset’s share its derivative', async () => {
      const preset = await fetchPublic(loose, pathOf((await issue(loose).expect(200)).body.url)).expect(200);
      const same = { job_type: ['thumbnail', 'convert'], params: { convert: { format: 'webp', quality: 80 } } };
      const freeForm = await fetchPublic(loose, pathOf((await issueSteps(loose, same).expect(200)).body.url)).expect(200);
      expect(freeForm.headers.etag).toBe(preset.headers.etag);
    });
  });
});
