import { NestExpressApplication } from '@nestjs/platform-express';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { request as httpRequest } from 'node:http';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { createImage, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { binary } from './utils/images';
import { startS3Server } from '../bench/s3-server';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, testEnv, TestEnv } from './utils/test-app';
import { filesUnder } from './utils/files';

const MAX_UPLOAD_BYTES = 400_000;

/** A PNG whose header claims `width`×`height` pixels: a decompression bomb's calling card. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', Buffer.alloc(16)), chunk('IEND', Buffer.alloc(0))]);
}

/** coffee.png with one byte of its IDAT chunk's CRC flipped. */
function pngWithBadCrc(): Buffer {
  const png = Buffer.from(fixture('coffee.png'));
  const idat = png.indexOf('IDAT', 0, 'latin1');
  png[idat + 4 + png.readUInt32BE(idat - 4)] ^= 0x01;
  return png;
}

describe('uploads and downloads (local storage)', () => {
  let app: NestExpressApplication;
  let env: TestEnv;
  let alice: TestUser;
  let bob: TestUser;
  const stored = () => filesUnder(join(env.DATA_DIR!, 'files'));

  beforeAll(async () => {
    env = testEnv({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) });
    app = await createTestApp(env);
    alice = await createUser(app);
    bob = await createUser(app);
  });

  afterAll(() => app.close());

  const put = (id: number, body: Buffer, type: string, user = alice) =>
    api(app).put(`/api/images/${id}/file`).set(bearer(user.token)).set('Content-Type', type).send(body);

  it.each([
    [
      'a truncated JPEG',
      () => fixture('astronaut.jpg').subarray(0, 20_000),
      'image/jpeg',
      422,
      /corrupt or truncated: the JPEG ends before its end-of-image marker/,
    ],
    ['a PNG with a bad chunk CRC', pngWithBadCrc, 'image/png', 422, /corrupt or truncated: PNG chunk IDAT has a bad CRC/],
    [
      'a PNG without its IEND chunk',
      () => fixture('coffee.png').subarray(0, -12),
      'image/png',
      422,
      /corrupt or truncated: the PNG ends before its IEND chunk/,
    ],
    ['a text file sent as image/png', () => Buffer.from('hello, I am not a picture\n'.repeat(40)), 'image/png', 415, /not an image/],
    [
      'a PNG whose header claims 100000×100000 pixels',
      () => pngClaiming(100_000, 100_000),
      'image/png',
      422,
      /100000×100000 pixels, more than/,
    ],
    ['an empty body', () => Buffer.alloc(0), 'image/png', 422, /empty/],
    ['a body over MAX_UPLOAD_BYTES', () => Buffer.alloc(MAX_UPLOAD_BYTES + 1, 7), 'image/png', 413, /limit/],
    ['a body that is not declared an image', () => fixture('astronaut.png'), 'application/octet-stream', 415, /Content-Type/],
  ])('refuses %s with a clear error and leaves nothing behind', async (_, body, type, status, message) => {
    const before = stored();
    const image = await createImage(app, alice);
    const response = await put(image.id, body(), type).expect(status);
    expect(response.body.error).toMatch(message);
    expect(stored()).toEqual(before);
    const record = await api(app).get(`/api/images/${image.id}.json`).set(bearer(alice.token)).expect(200);
    expect(record.body).toMatchObject({ status: 'created', s3_key: null });
  });

  it('refuses an upload streamed without Content-Length once it passes the limit (413), whatever it holds', async () => {
    const before = stored();
    const image = await createImage(app, alice);
    const server = app.getHttpServer();
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const upload = httpRequest(
        {
          port,
          host: '127.0.0.1',
          method: 'PUT',
          path: `/api/images/${image.id}/file`,
          headers: { ...bearer(alice.token), 'Content-Type': 'image/png' },
        },
        (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, body }));
        },
      );
      upload.on('error', reject);
      // Chunked, no Content-Length: the server learns the size only by counting.
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const pump = () => {
        while (sent < MAX_UPLOAD_BYTES * 3) {
          sent += chunk.length;
          if (!upload.write(chunk)) return upload.once('drain', pump);
        }
        upload.end();
      };
      pump();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error).toMatch(/400000-byte limit/);
    expect(stored()).toEqual(before);
  });

  it('stores an accepted upload as it arrives, under a key with its format, sized from its header', async () => {
    const before = stored();
    const image = await createImage(app, alice);
    const photo = fixture('astronaut.jpg');
    const response = await put(image.id, photo, 'image/jpeg').expect(200);
    expect(response.body).toMatchObject({
      status: 'original stored',
      format: 'jpeg',
      width: 512,
      height: 512,
      bytes: photo.length,
      corrupt_reason: null,
    });
    expect(response.body.s3_key).toMatch(/^originals\/.+\.jpg$/);
    expect(stored().sort()).toEqual([...before, join(env.DATA_DIR!, 'files', response.body.s3_key)].sort());
  });

  it("answers 404 to an upload to someone else's image, and keeps serving", async () => {
    const image = await createImage(app, alice);
    await put(image.id, fixture('astronaut.png'), 'image/png', bob).expect(404);
    await api(app).get('/api/users.json').set(bearer(alice.token)).expect(200);
  });

  it('creates and uploads in one multipart request, refusing bad fields without storing the file', async () => {
    const before = stored();
    const bad = await api(app)
      .post('/api/images.json')
      .set(bearer(alice.token))
      .field('image_type', 'no-such-type')
      .attach('file', fixture('coffee.png'), 'coffee.png')
      .expect(422);
    expect(bad.body.details[0].field).toBe('image_type');
    const unknownField = await api(app)
      .post('/api/images.json')
      .set(bearer(alice.token))
      .field('status', 'processed')
      .attach('file', fixture('coffee.png'), 'coffee.png')
      .expect(422);
    expect(unknownField.body.details[0].field).toBe('status');
    const truncated = await api(app)
      .post('/api/images.json')
      .set(bearer(alice.token))
      .attach('file', fixture('astronaut.jpg').subarray(0, 30_000), 'astronaut.jpg')
      .expect(422);
    expect(truncated.body.details).toEqual([
      { field: 'file', message: 'The image is corrupt or truncated: the JPEG ends before its end-of-image marker (EOI)' },
    ]);
    const noFile = await api(app).post('/api/images.json').set(bearer(alice.token)).field('image_type', 'original').expect(422);
    expect(noFile.body.details[0].field).toBe('file');
    expect(stored()).toEqual(before);

    const good = await api(app)
      .post('/api/images.json')
      .set(bearer(alice.token))
      .field('image_type', 'original')
      .attach('file', fixture('coffee.png'), 'coffee.png')
      .expect(201);
    expect(good.body).toMatchObject({ status: 'original stored', format: 'png', width: expect.any(Number) });
    expect(stored()).toHaveLength(before.length + 1);
  });

  it('serves the file with its type, length, ETag and a curl -OJ filename; 304 when unchanged', async () => {
    const image = await createStoredImage(app, alice, 'astronaut.jpg');
    const photo = fixture('astronaut.jpg');
    const response = await api(app).get(`/api/images/${image.id}/file`).set(bearer(alice.token)).buffer(true).parse(binary).expect(200);
    expect(response.headers).toMatchObject({
      'content-type': 'image/jpeg',
      'content-length': String(photo.length),
      'content-disposition': `attachment; filename="${image.id}-original.jpg"`,
      etag: `"${image.sha256}"`,
    });
    expect(response.body.equals(photo)).toBe(true);
    await api(app).get(`/api/images/${image.id}/file`).set(bearer(alice.token)).set('If-None-Match', `"${image.sha256}"`).expect(304);
    await api(app).get(`/api/images/${image.id}/file`).set(bearer(bob.token)).expect(404);
    const bare = await createImage(app, alice);
    await api(app).get(`/api/images/${bare.id}/file`).set(bearer(alice.token)).expect(404);
  });

  it('replaces an original, deleting the old file, and deletes the file with the image', async () => {
    const image = await createStoredImage(app, alice, 'astronaut.png');
    const first = join(env.DATA_DIR!, 'files', image.s3_key);
    expect(stored()).toContain(first);
    const replaced = await put(image.id, fixture('coffee.png'), 'image/png').expect(200);
    expect(stored()).not.toContain(first);
    const second = join(env.DATA_DIR!, 'files', replaced.body.s3_key);
    expect(stored()).toContain(second);
    await api(app).delete(`/api/images/${image.id}.json`).set(bearer(alice.token)).expect(200);
    expect(stored()).not.toContain(second);
  });

  it("deletes a user's files with the user", async () => {
    const carol = await createUser(app);
    const image = await createStoredImage(app, carol, 'coffee.png');
    const file = join(env.DATA_DIR!, 'files', image.s3_key);
    expect(stored()).toContain(file);
    await api(app).delete(`/api/users/${carol.id}.json`).set(bearer(carol.token)).expect(200);
    expect(stored()).not.toContain(file);
  });

  it('explains that presigned uploads need S3 (409)', async () => {
    const image = await createImage(app, alice);
    const response = await api(app).post(`/api/images/${image.id}/upload_url`).set(bearer(alice.token)).send({}).expect(409);
    expect(response.body.error).toMatch(/STORAGE=s3/);
  });
});

describe("the seed's out-of-band upload (S3 storage, presigned PUT)", () => {
  const BUCKET = 'darkroom-presign';
  let app: NestExpressApplication;
  let s3: { endpoint: string; stop(): Promise<void> };
  let user: TestUser;

  beforeAll(async () => {
    s3 = await startS3Server(BUCKET);
    // An installation keeps its files in one store: S3 gets a database of its own.
    const { url } = await createSuiteDatabase('s3');
    app = await createTestApp(
      testEnv({
        DATABASE_URL: url,
        STORAGE: 's3',
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: s3.endpoint,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      }),
    );
    user = await createUser(app);
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
  });

  const originals = async () => {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'originals/' }));
    client.destroy();
    return (listed.Contents ?? []).map((object) => object.Key);
  };

  it('streams an accepted PUT /file to S3, and leaves no object of a refused one', async () => {
    const image = (await api(app).post('/api/images.json').set(bearer(user.token)).send({}).expect(201)).body;
    const before = await originals();
    const refused = await api(app)
      .put(`/api/images/${image.id}/file`)
      .set(bearer(user.token))
      .set('Content-Type', 'image/png')
      .send(pngWithBadCrc())
      .expect(422);
    expect(refused.body.error).toMatch(/bad CRC/);
    expect(await originals()).toEqual(before);
    const photo = fixture('coffee.png');
    const stored = await api(app)
      .put(`/api/images/${image.id}/file`)
      .set(bearer(user.token))
      .set('Content-Type', 'image/png')
      .send(photo)
      .expect(200);
    expect(stored.body).toMatchObject({ format: 'png', width: 300, height: 200, bytes: photo.length });
    expect(await originals()).toEqual([...before, stored.body.s3_key].sort());
    const back = await api(app).get(`/api/images/${image.id}/file`).set(bearer(user.token)).buffer(true).parse(binary).expect(200);
    expect(back.body.equals(photo)).toBe(true);
  });

  const presign = async (imageId: number) =>
    (await api(app).post(`/api/images/${imageId}/upload_url`).set(bearer(user.token)).send({ content_type: 'image/png' }).expect(200)).body;

  it('issues a URL, takes the upload, checks it and records it on PUT {"s3_key"}', async () => {
    const image = (await api(app).post('/api/images.json').set(bearer(user.token)).send({}).expect(201)).body;
    const grant = await presign(image.id);
    expect(grant).toMatchObject({
      url: expect.stringContaining(s3.endpoint),
      s3_key: expect.stringMatching(`^uploads/${image.id}/`),
      expires_in: 900,
    });
    const photo = fixture('astronaut.png');
    const upload = await fetch(grant.url, { method: 'PUT', body: photo, headers: { 'Content-Type': 'image/png' } });
    expect(upload.ok).toBe(true);
    const recorded = await api(app)
      .put(`/api/images/${image.id}.json`)
      .set(bearer(user.token))
      .send({ id: image.id, s3_key: grant.s3_key })
      .expect(200);
    expect(recorded.body).toMatchObject({ status: 'original stored', s3_key: grant.s3_key, format: 'png', bytes: photo.length });
    const back = await api(app).get(`/api/images/${image.id}/file`).set(bearer(user.token)).buffer(true).parse(binary).expect(200);
    expect(back.body.equals(photo)).toBe(true);
  });

  it('refuses an adopted upload that is truncated (422), deleting its object', async () => {
    const image = (await api(app).post('/api/images.json').set(bearer(user.token)).send({}).expect(201)).body;
    const grant = await presign(image.id);
    await fetch(grant.url, { method: 'PUT', body: fixture('astronaut.png').subarray(0, 50_000), headers: { 'Content-Type': 'image/png' } });
    const refused = await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(422);
    expect(refused.body).toMatchObject({
      error: 'The image is corrupt or truncated: PNG chunk IDAT runs past the end of the file',
      details: [{ field: 'file' }],
    });
    // Its object is gone: the key no longer names an upload.
    const again = await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(422);
    expect(again.body.details[0].field).toBe('s3_key');
  });

  it('records the other fields of a body that adopts an upload along with the file', async () => {
    const image = (await api(app).post('/api/images.json').set(bearer(user.token)).send({}).expect(201)).body;
    const source = (await api(app).post('/api/images.json').set(bearer(user.token)).send({}).expect(201)).body;
    const grant = await presign(image.id);
    await fetch(grant.url, { method: 'PUT', body: fixture('coffee.png'), headers: { 'Content-Type': 'image/png' } });
    const recorded = await api(app)
      .put(`/api/images/${image.id}.json`)
      .set(bearer(user.token))
      .send({ s3_key: grant.s3_key, image_type: 'grayscale', original_id: source.id })
      .expect(200);
    expect(recorded.body).toMatchObject({
      status: 'original stored',
      s3_key: grant.s3_key,
      image_type: 'grayscale',
      original_id: source.id,
    });
  });

  it('refuses a key never uploaded to, another image’s key, and a non-image (deleting it)', async () => {
    const image = (await api(app).post('/api/images.json').set(bearer(user.token)).send({}).expect(201)).body;
    const other = (await api(app).post('/api/images.json').set(bearer(user.token)).send({}).expect(201)).body;
    const grant = await presign(image.id);
    await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(422);
    await fetch(grant.url, { method: 'PUT', body: Buffer.from('not an image at all'), headers: { 'Content-Type': 'image/png' } });
    await api(app).put(`/api/images/${other.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(422);
    const refused = await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(415);
    expect(refused.body.error).toMatch(/not an image/);
    await api(app).put(`/api/images/${image.id}.json`).set(bearer(user.token)).send({ s3_key: grant.s3_key }).expect(422);
    const record = await api(app).get(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200);
    expect(record.body).toMatchObject({ status: 'created', s3_key: null });
  });
});
