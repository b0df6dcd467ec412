import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { UploadExpiry } from '../src/uploads/upload-expiry';
import { createUser, TestUser } from './utils/factories';
import { uniquePhoto } from './utils/images';
import { backendsAndStorages, storageFor } from './utils/storages';
import { createSuiteDatabase } from './utils/suite-database';
import { ADMIN_TOKEN, createTestApp, testEnv, TestEnv } from './utils/test-app';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** A tus request to a listening app; `metadata` becomes Upload-Metadata (values base64-encoded). */
async function tus(
  base: string,
  method: string,
  path: string,
  token: string,
  options: { headers?: Record<string, string>; metadata?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}`, ...options.headers };
  if (options.metadata && Object.keys(options.metadata).length > 0) {
    headers['Upload-Metadata'] = Object.entries(options.metadata)
      .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
      .join(',');
  }
  const response = await fetch(`${base}${path}`, { method, headers, body: options.body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A real PNG of about `bytes` bytes: noise, stored uncompressed, so that it decodes and weighs what its pixels do. */
async function noisePng(bytes: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

/**
 * Sends `body` as a PATCH from `offset` over a socket that is destroyed once `cutAfter` bytes have
 * gone: a connection dropped part-way, as a phone losing its network does.
 */
function patchCut(base: string, path: string, token: string, body: Buffer, cutAfter: number): Promise<void> {
  const url = new URL(`${base}${path}`);
  return new Promise((resolve) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        Authorization: `Bearer ${token}`,
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
        'Content-Length': String(body.length),
      },
    });
    req.on('error', () => resolve());
    req.on('response', (response) => {
      response.resume();
      resolve();
    });
    const chunk = 256 * 1024;
    let sent = 0;
    const pump = () => {
      while (sent < cutAfter) {
        const end = Math.min(sent + chunk, cutAfter);
        const more = req.write(body.subarray(sent, end));
        sent = end;
        if (!more) return void req.once('drain', pump);
      }
      // Long enough for the server to have taken in what was sent, then the connection is gone.
      setTimeout(() => req.destroy(), 300);
    };
    pump();
  });
}

describe.each(backendsAndStorages())('resumable uploads (tus), queue on $name, files on $storage', (setup) => {
  const apps: NestExpressApplication[] = [];
  let storage: { stop(): Promise<void> } | undefined;
  let env: TestEnv;
  let bases: string[];
  let ada: TestUser;
  let grace: TestUser;
  let bucket: string;

  const listen = async (app: NestExpressApplication): Promise<string> => {
    await app.listen(0, '127.0.0.1');
    return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    bucket = 'darkroom-tus';
    const files = await storageFor(setup.storage, bucket);
    storage = files;
    env = testEnv({ DATABASE_URL: (await createSuiteDatabase(`tus_${setup.label}`)).url, REDIS_URL: setup.redisUrl, ...files.env });
    // Two API nodes of one installation: one database, one DATA_DIR (local) or one bucket.
    apps.push(await createTestApp(env), await createTestApp(env));
    bases = await Promise.all(apps.map(listen));
    ada = await createUser(apps[0]);
    grace = await createUser(apps[0]);
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) await app.close();
    await storage?.stop();
  });

  const create = (base: string, token: string, length: number, metadata: Record<string, string> = {}) =>
    tus(base, 'POST', '/api/uploads', token, { headers: { 'Upload-Length': String(length) }, metadata });
  const patch = (base: string, location: string, token: string, offset: number, body: Buffer) =>
    tus(base, 'PATCH', location, token, {
      headers: { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body,
    });
  const imagesOf = async (user: TestUser) =>
    (await (await fetch(`${bases[0]}/api/images.json?n=all`, { headers: { Authorization: `Bearer ${user.token}` } })).json()) as {
      id: number;
    }[];

  it('refuses what a multipart upload would refuse, before any byte, in the API’s error body', async () => {
    const tooLarge = await create(bases[0], ada.token, 50 * 1024 * 1024 + 1);
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.text)).toEqual({ error: 'Maximum size exceeded', details: [] });
    expect(tooLarge.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const noVersion = await fetch(`${bases[0]}/api/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${ada.token}` } });
    expect([noVersion.status, await noVersion.json()]).toEqual([412, { error: 'Tus-Resumable Required', details: [] }]);
    const badJob = await create(bases[0], ada.token, 1000, { filename: 'a.jpg', job_type: 'grayscale,no_such_step' });
    expect(badJob.status).toBe(422);
    expect(badJob.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(badJob.text).details).toEqual([expect.objectContaining({ field: 'job_type' })]);
    const badParams = await create(bases[0], ada.token, 1000, { job_type: '["resize"]', params: '{"resize": {"width": "wide"}}' });
    expect(badParams.status).toBe(422);
    const badType = await create(bases[0], ada.token, 1000, { image_type: 'no_such_type' });
    expect(badType.status).toBe(422);
    expect(JSON.parse(badType.text).details[0].field).toBe('image_type');
    const badPreset = await create(bases[0], ada.token, 1000, { presets: 'thumb_256,no_such_preset' });
    expect(badPreset.status).toBe(422);
    expect((await tus(bases[0], 'POST', '/api/uploads', '', { headers: { 'Upload-Length': '10' } })).status).toBe(401);
  });

  it('keeps each upload to its owner: another user’s HEAD, PATCH and DELETE are 404', async () => {
    const created = await create(bases[0], ada.token, 1000, { filename: 'mine.jpg' });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect(location).toMatch(/^\/api\/uploads\/[0-9a-f]+$/);
    expect((await tus(bases[1], 'HEAD', location, grace.token)).status).toBe(404);
    expect((await patch(bases[1], location, grace.token, 0, Buffer.alloc(10))).status).toBe(404);
    expect((await tus(bases[1], 'DELETE', location, grace.token)).status).toBe(404);
    const head = await tus(bases[1], 'HEAD', location, ada.token);
    expect([head.status, head.headers.get('upload-offset'), head.headers.get('upload-length')]).toEqual([200, '0', '1000']);
    expect((await tus(bases[0], 'DELETE', location, ada.token)).status).toBe(204);
    expect((await tus(bases[1], 'HEAD', location, ada.token)).status).toBe(404);
  });

  const usage = async (user: TestUser) =>
    (
      (await (await fetch(`${bases[0]}/api/users/me.json`, { headers: { Authorization: `Bearer ${user.token}` } })).json()) as {
        usage: { storage_bytes: number };
      }
    ).usage.storage_bytes;
  const setStorageQuota = async (user: TestUser, bytes: number) =>
    expect(
      (
        await fetch(`${bases[0]}/api/users/${user.id}.json`, {
          method: 'PUT',
          headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ max_storage_bytes: bytes }),
        })
      ).status,
    ).toBe(200);

  it('checks the storage quota against Upload-Length at creation, and again at the last byte', async () => {
    const carol = await createUser(apps[0]);
    const photo = await uniquePhoto();
    await setStorageQuota(carol, photo.length - 1);
    const refused = await create(bases[0], carol.token, photo.length);
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.text).error).toMatch(/^Storage quota exceeded/);
    await setStorageQuota(carol, photo.length);
    const created = await create(bases[0], carol.token, photo.length);
    expect(created.status).toBe(201);
    // The quota shrinks while the bytes travel: the last byte is refused, and nothing is stored.
    await setStorageQuota(carol, photo.length - 1);
    const location = created.headers.get('location')!;
    expect((await patch(bases[1], location, carol.token, 0, photo)).status).toBe(413);
    expect(await imagesOf(carol)).toEqual([]);
    expect(await usage(carol)).toBe(0);
  });

  it('resumes a 30 MB upload cut off at about 40 %, and stores exactly its bytes', async () => {
    const storedBefore = await usage(ada);
    const photo = await noisePng(30 * 1024 * 1024);
    const created = await create(bases[0], ada.token, photo.length, { filename: 'noise.png' });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    await patchCut(bases[0], location, ada.token, photo, Math.floor(photo.length * 0.4));
    const head = await tus(bases[1], 'HEAD', location, ada.token);
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(Math.floor(photo.length * 0.4));
    const finished = await patch(bases[1], location, ada.token, offset, photo.subarray(offset));
    expect(finished.status).toBe(200);
    const { image, job } = JSON.parse(finished.text);
    expect(job).toBeNull();
    expect(finished.headers.get('location')).toBe(`/api/images/${image.id}`);
    expect(image).toMatchObject({ status: 'original stored', format: 'png', bytes: photo.length, sha256: sha256(photo) });
    const stored = Buffer.from(
      await (await fetch(`${bases[0]}/api/images/${image.id}/file`, { headers: { Authorization: `Bearer ${ada.token}` } })).arrayBuffer(),
    );
    expect(sha256(stored)).toBe(sha256(photo));
    // The image's file is the one copy: the tus store's is gone, and the quota counts it once.
    expect(await leftovers(location.split('/').pop()!)).toEqual([]);
    expect((await usage(ada)) - storedBefore).toBe(photo.length);
  }, 60_000);

  it('makes one image and one job however often, and on whichever node, the final PATCH comes', async () => {
    const before = (await imagesOf(grace)).length;
    const photo = await uniquePhoto();
    const created = await create(bases[0], grace.token, photo.length, { filename: 'p.jpg', job_type: '["grayscale"]' });
    const location = created.headers.get('location')!;
    // Created on one node, written on the other.
    const first = await patch(bases[1], location, grace.token, 0, photo);
    expect(first.status).toBe(200);
    const made = JSON.parse(first.text);
    expect(made.job).toMatchObject({ image_id: made.image.id, job_type: ['process', 'grayscale'] });
    // The client never saw that answer, and sends the end again, to both nodes at once.
    const retries = await Promise.all([
      patch(bases[0], location, grace.token, photo.length, Buffer.alloc(0)),
      patch(bases[1], location, grace.token, photo.length, Buffer.alloc(0)),
    ]);
    for (const retry of retries) {
      expect(retry.status).toBe(200);
      expect(JSON.parse(retry.text)).toMatchObject({ image: { id: made.image.id }, job: { id: made.job.id } });
    }
    expect((await imagesOf(grace)).length).toBe(before + 1);
    const head = await tus(bases[0], 'HEAD', location, grace.token);
    expect([head.status, head.headers.get('upload-offset')]).toEqual([200, String(photo.length)]);
  });

  it('lets one node at a time at an upload: a HEAD on the other waits for the PATCH in flight, a PATCH from its old offset is 409', async () => {
    const photo = await uniquePhoto();
    const created = await create(bases[0], ada.token, photo.length);
    const location = created.headers.get('location')!;
    const half = Math.floor(photo.length / 2);
    // A slow PATCH on node 0: half of its bytes, a pause, the rest.
    const slow = new Promise<number>((resolve, reject) => {
      const url = new URL(`${bases[0]}${location}`);
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PATCH',
        headers: {
          'Tus-Resumable': '1.0.0',
          Authorization: `Bearer ${ada.token}`,
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(half),
        },
      });
      req.on('error', reject);
      req.on('response', (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      req.write(photo.subarray(0, half / 2));
      setTimeout(() => req.end(photo.subarray(half / 2, half)), 1_000);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Without a lock shared by the nodes, node 1 would read the offset mid-write (a quarter).
    const head = await tus(bases[1], 'HEAD', location, ada.token);
    expect(head.headers.get('upload-offset')).toBe(String(half));
    expect(await slow).toBe(204);
    expect((await patch(bases[1], location, ada.token, 0, photo.subarray(0, half))).status).toBe(409);
    expect((await patch(bases[1], location, ada.token, half, photo.subarray(half))).status).toBe(200);
  });

  it('refuses, at the last byte, a file that is not an accepted image; a retry is refused alike', async () => {
    const notAnImage = Buffer.from('these bytes are not a photograph at all');
    const created = await create(bases[0], ada.token, notAnImage.length);
    const location = created.headers.get('location')!;
    const answer = await patch(bases[0], location, ada.token, 0, notAnImage);
    expect(answer.status).toBe(415);
    expect(JSON.parse(answer.text).error).toMatch(/format|image/i);
    expect((await patch(bases[1], location, ada.token, notAnImage.length, Buffer.alloc(0))).status).toBe(415);
  });

  it('expires an abandoned upload and deletes its bytes', async () => {
    const expiring = await createTestApp({ ...env, UPLOAD_EXPIRY: '2' });
    try {
      const base = await listen(expiring);
      const photo = await noisePng(6 * 1024 * 1024);
      const created = await create(base, ada.token, photo.length);
      const location = created.headers.get('location')!;
      const id = location.split('/').pop()!;
      // More than an S3 part (5 MiB) and a remainder smaller than one: a part and a .part object.
      expect((await patch(base, location, ada.token, 0, photo.subarray(0, 5.5 * 1024 * 1024))).status).toBe(204);
      expect(await leftovers(id)).not.toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect((await tus(base, 'HEAD', location, ada.token)).status).toBe(410);
      expect(await expiring.get(UploadExpiry).run()).toBeGreaterThanOrEqual(1);
      expect(await leftovers(id)).toEqual([]);
      expect((await tus(base, 'HEAD', location, ada.token)).status).toBe(404);
    } finally {
      await expiring.close();
    }
  });

  /** What is left of upload `id` in the tus store: files on disk, or objects and multipart uploads in the bucket. */
  async function leftovers(id: string): Promise<string[]> {
    if (setup.storage === 'local') {
      const dir = join(env.DATA_DIR!, 'uploads');
      return existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith(id)) : [];
    }
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: env.S3_ENDPOINT,
      forcePathStyle: true,
      credentials: { accessKeyId: env.S3_ACCESS_KEY_ID!, secretAccessKey: env.S3_SECRET_ACCESS_KEY! },
    });
    try {
      const objects = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: id }));
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return [
        ...(objects.Contents ?? []).map((object) => object.Key!),
        ...(uploads.Uploads ?? []).filter((upload) => upload.Key === id).map((upload) => `multipart upload ${upload.UploadId}`),
      ];
    } finally {
      s3.destroy();
    }
  }
});
