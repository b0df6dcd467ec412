import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Storage, storageFor } from './utils/storages';
import { createJob, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { binary } from './utils/images';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

const BUCKET = 'darkroom-cache';
const run = promisify(execFile);

/** Waits past the current second: Last-Modified counts whole seconds. */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() % 1000)));

/**
 * Cache-friendly answers (issue 23): strong ETags on an image's JSON and file, Last-Modified on the
 * file, 304s, byte ranges, and what curl makes of them (`-z`, `-C -`), with the files on local
 * disk and on S3 (s3rver). The queue backend plays no part: PostgreSQL's.
 */
describe.each<Storage>(['local', 's3'])('cache headers, files on %s storage', (storage) => {
  let app: NestExpressApplication;
  let files: { stop(): Promise<void> } | undefined;
  let env: TestEnv;
  let user: TestUser;
  let base: string;
  let workDir: string;

  beforeAll(async () => {
    // An installation keeps its files in one store: each storage gets a database of its own.
    const started = await storageFor(storage, BUCKET);
    files = started;
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`cache_${storage}`)).url, ...started.env });
    app = await createTestApp(env);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    user = await createUser(app);
    workDir = await mkdtemp(join(tmpdir(), 'darkroom-curl-'));
  });

  afterAll(async () => {
    await app?.close();
    await files?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const getFile = (id: number, headers: Record<string, string> = {}) =>
    api(app)
      .get(`/api/images/${id}/file`)
      .set({ ...bearer(user.token), ...headers })
      .buffer(true)
      .parse(binary);

  /** curl against the listening app as `user`: its exit, and what it wrote with -w. */
  const curl = (args: string[]) =>
    run('curl', [
      '--silent',
      '--show-error',
      '--header',
      `Authorization: Bearer ${user.token}`,
      '--write-out',
      '%{http_code} %{size_download}',
      ...args,
    ]);

  describe('image JSON', () => {
    it('carries a strong ETag, the same with and without .json, and answers If-None-Match with 304', async () => {
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const plain = await api(app).get(`/api/images/${image.id}`).set(bearer(user.token)).expect(200);
      const suffixed = await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200);
      const etag = plain.headers.etag;

      expect(etag).toMatch(/^"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
      expect(suffixed.headers.etag).toBe(etag);
      for (const ifNoneMatch of [etag, `W/${etag}`, `"something-else", ${etag}`, '*']) {
        const notModified = await api(app)
          .get(`/api/images/${image.id}.json`)
          .set(bearer(user.token))
          .set('If-None-Match', ifNoneMatch)
          .expect(304);
        expect(notModified.headers.etag).toBe(etag);
        expect(notModified.text).toBe('');
      }
      await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).set('If-None-Match', '"something-else"').expect(200);
    });

    it('changes its ETag when the image changes, so that an old copy is sent anew', async () => {
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const before = (await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200)).headers.etag;
      await api(app)
        .put(`/api/images/${image.id}/file`)
        .set(bearer(user.token))
        .set('Content-Type', 'image/png')
        .send(fixture('coffee.png'))
        .expect(200);

      const after = await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).set('If-None-Match', before).expect(200);
      expect(after.body).toMatchObject({ format: 'png', width: 300, height: 200 });
      expect(after.headers.etag).not.toBe(before);
    });

    it("leaves other JSON answers Express's weak ETag", async () => {
      const list = await api(app).get('/api/images.json').set(bearer(user.token)).expect(200);
      expect(list.headers.etag).toMatch(/^W\//);
    });

    it('answers no 304 to a request that may not see the image', async () => {
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const { etag } = (await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200)).headers;
      const stranger = await createUser(app);
      await api(app).get(`/api/images/${image.id}.json`).set(bearer(stranger.token)).set('If-None-Match', etag).expect(404);
    });
  });

  describe('image file', () => {
    it('carries its SHA-256 as a strong ETag, the time it was stored as Last-Modified, and Accept-Ranges', async () => {
      const photo = fixture('astronaut.jpg');
      const uploadedFrom = Math.floor(Date.now() / 1000) * 1000;
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const uploadedBy = Date.now();
      const response = await getFile(image.id).expect(200);

      expect(response.headers).toMatchObject({
        etag: `"${image.sha256}"`,
        'accept-ranges': 'bytes',
        'cache-control': 'no-cache',
        'content-length': String(photo.length),
        'content-type': 'image/jpeg',
      });
      const lastModified = Date.parse(response.headers['last-modified']);
      expect(lastModified).toBeGreaterThanOrEqual(uploadedFrom);
      expect(lastModified).toBeLessThanOrEqual(uploadedBy);
      expect(response.body.equals(photo)).toBe(true);
    });

    it('answers If-None-Match and If-Modified-Since with 304, If-None-Match first', async () => {
      const image = await createStoredImage(app, user, 'coffee.png');
      const { etag, 'last-modified': lastModified } = (await getFile(image.id).expect(200)).headers;
      const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
      const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();

      const notModified = await getFile(image.id, { 'If-None-Match': `"other", W/${etag}` }).expect(304);
      expect(notModified.headers).toMatchObject({ etag, 'last-modified': lastModified });
      expect(notModified.body).toHaveLength(0);
      await getFile(image.id, { 'If-Modified-Since': lastModified }).expect(304);
      await getFile(image.id, { 'If-Modified-Since': later }).expect(304);
      await getFile(image.id, { 'If-Modified-Since': earlier }).expect(200);
      // With both, only If-None-Match counts (RFC 9110 §13.1.3).
      await getFile(image.id, { 'If-None-Match': '"other"', 'If-Modified-Since': later }).expect(200);
      await getFile(image.id, { 'If-None-Match': etag, 'If-Modified-Since': earlier }).expect(304);
    });

    it('keeps Last-Modified when only the record changes, and moves it with a new file', async () => {
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const other = await createStoredImage(app, user, 'coffee.png');
      const first = (await getFile(image.id).expect(200)).headers;
      await nextSecond();
      const moved = await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ original_id: other.id }).expect(200);

      expect(moved.body.updated_at).not.toBe(image.updated_at);
      expect((await getFile(image.id, { 'If-Modified-Since': first['last-modified'] }).expect(304)).headers['last-modified']).toBe(
        first['last-modified'],
      );
      await nextSecond();
      await api(app)
        .put(`/api/images/${image.id}/file`)
        .set(bearer(user.token))
        .set('Content-Type', 'image/png')
        .send(fixture('coffee.png'))
        .expect(200);
      const replaced = await getFile(image.id, { 'If-Modified-Since': first['last-modified'] }).expect(200);
      expect(Date.parse(replaced.headers['last-modified'])).toBeGreaterThan(Date.parse(first['last-modified']));
      expect(replaced.body.equals(fixture('coffee.png'))).toBe(true);
      await getFile(image.id, { 'If-None-Match': first.etag }).expect(200);
    });

    it('answers a byte range with 206 and exactly those bytes', async () => {
      const photo = fixture('astronaut.jpg');
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const cases: [string, number, number][] = [
        ['bytes=0-0', 0, 0],
        ['bytes=1000-4999', 1000, 4999],
        [`bytes=${photo.length - 100}-`, photo.length - 100, photo.length - 1],
        ['bytes=-2048', photo.length - 2048, photo.length - 1],
        [`bytes=40000-${photo.length * 2}`, 40000, photo.length - 1],
      ];
      for (const [range, start, end] of cases) {
        const partial = await getFile(image.id, { Range: range }).expect(206);
        expect(partial.headers).toMatchObject({
          'content-range': `bytes ${start}-${end}/${photo.length}`,
          'content-length': String(end - start + 1),
          etag: `"${image.sha256}"`,
          'content-type': 'image/jpeg',
        });
        expect(partial.body.equals(photo.subarray(start, end + 1))).toBe(true);
      }
    });

    it('answers a range past the end with 416, naming the size, and several ranges with the whole file', async () => {
      const photo = fixture('astronaut.jpg');
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const refused = await api(app)
        .get(`/api/images/${image.id}/file`)
        .set(bearer(user.token))
        .set('Range', `bytes=${photo.length}-`)
        .expect(416);
      expect(refused.headers['content-range']).toBe(`bytes */${photo.length}`);
      expect(refused.body).toEqual({
        error: `Range bytes=${photo.length}- asks for no byte of the file, whose bytes are 0 to ${photo.length - 1}`,
        details: [{ field: 'Range', message: expect.stringContaining(`bytes=${photo.length}-`) }],
      });
      const whole = await getFile(image.id, { Range: 'bytes=0-9,100-109' }).expect(200);
      expect(whole.body.equals(photo)).toBe(true);
      // A Range that does not parse is ignored, as RFC 9110 allows.
      await getFile(image.id, { Range: 'bytes=abc' }).expect(200);
    });

    it('honours If-Range: the range for the current version, the whole file for another', async () => {
      const photo = fixture('coffee.png');
      const image = await createStoredImage(app, user, 'coffee.png');
      const { etag, 'last-modified': lastModified } = (await getFile(image.id).expect(200)).headers;

      await getFile(image.id, { Range: 'bytes=0-99', 'If-Range': etag }).expect(206);
      await getFile(image.id, { Range: 'bytes=0-99', 'If-Range': lastModified }).expect(206);
      const stale = await getFile(image.id, { Range: 'bytes=0-99', 'If-Range': '"a-version-replaced-since"' }).expect(200);
      expect(stale.body.equals(photo)).toBe(true);
      await getFile(image.id, { Range: 'bytes=0-99', 'If-Range': new Date(Date.parse(lastModified) - 1000).toUTCString() }).expect(200);
    });

    it('answers a HEAD with the headers of the whole file', async () => {
      const photo = fixture('astronaut.jpg');
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const head = await api(app).head(`/api/images/${image.id}/file`).set(bearer(user.token)).set('Range', 'bytes=0-9').expect(200);
      expect(head.headers).toMatchObject({ 'content-length': String(photo.length), etag: `"${image.sha256}"`, 'accept-ranges': 'bytes' });
    });
  });

  describe('with curl', () => {
    it('does not download an unchanged file again (curl -z), and does download a changed one', async () => {
      const photo = fixture('astronaut.jpg');
      const image = await createStoredImage(app, user, 'astronaut.jpg');
      const url = `${base}/api/images/${image.id}/file`;
      const saved = join(workDir, `${storage}-${image.id}.jpg`);

      expect((await curl(['--output', saved, url])).stdout).toBe(`200 ${photo.length}`);
      expect((await readFile(saved)).equals(photo)).toBe(true);
      // curl sends the saved file's time as If-Modified-Since: it was saved after the file was stored.
      expect((await curl(['--time-cond', saved, '--output', saved, url])).stdout).toBe('304 0');
      expect((await readFile(saved)).equals(photo)).toBe(true);

      // A copy older than the stored file is downloaded again.
      const old = new Date('2020-01-01T00:00:00Z');
      await writeFile(saved, 'an old copy');
      await utimes(saved, old, old);
      expect((await curl(['--time-cond', saved, '--output', saved, url])).stdout).toBe(`200 ${photo.length}`);
      expect((await readFile(saved)).equals(photo)).toBe(true);
    });

    it('resumes an interrupted download (curl -C -) to the exact original bytes', async () => {
      const photo = fixture('coffee.png');
      const image = await createStoredImage(app, user, 'coffee.png');
      const partial = join(workDir, `${storage}-${image.id}.png`);
      const kept = Math.floor(photo.length * 0.4);
      await writeFile(partial, photo.subarray(0, kept));

      const { stdout } = await curl(['--continue-at', '-', '--output', partial, `${base}/api/images/${image.id}/file`]);
      expect(stdout).toBe(`206 ${photo.length - kept}`);
      expect((await stat(partial)).size).toBe(photo.length);
      expect((await readFile(partial)).equals(photo)).toBe(true);
    });
  });

  it("gives a job's output the time the worker recorded it as Last-Modified", async () => {
    const worker: INestApplicationContext = await startTestWorker(env);
    try {
      const image = await createStoredImage(app, user, 'coffee.png');
      const job = await createJob(app, user, { image_id: image.id, job_type: 'grayscale' });
      const done = await waitForJob(app, user.token, job.id);
      expect(done).toMatchObject({ status: 'completed' });
      const outputId = done.outputs[0] as number;
      const output = (await api(app).get(`/api/images/${outputId}.json`).set(bearer(user.token)).expect(200)).body;
      const file = await getFile(outputId).expect(200);

      const lastModified = Date.parse(file.headers['last-modified']);
      expect(lastModified).toBe(Math.floor(Date.parse(output.created_at) / 1000) * 1000);
      await getFile(outputId, { 'If-Modified-Since': file.headers['last-modified'] }).expect(304);
    } finally {
      await worker.close();
    }
  });
});
