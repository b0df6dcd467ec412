import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { S3RVER_CREDENTIALS, startCountingProxy, startS3Server } from '../../bench/s3-server';
import { S3StorageDriver } from './s3-storage.driver';
import { StorageObjectNotFoundError } from './storage.driver';

const BUCKET = 'darkroom-test';

function chunked(data: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
    })(),
  );
}

/** Yields `bytes` random bytes, then fails as a dropped client upload would. */
function failingStream(bytes: number): Readable {
  return Readable.from(
    (async function* () {
      yield randomBytes(bytes);
      throw new Error('client went away');
    })(),
  );
}

describe('S3StorageDriver against s3rver', () => {
  let server: Awaited<ReturnType<typeof startS3Server>>;
  let driver: S3StorageDriver;

  beforeAll(async () => {
    server = await startS3Server(BUCKET);
    driver = new S3StorageDriver({ bucket: BUCKET, endpoint: server.endpoint, region: 'us-east-1', ...S3RVER_CREDENTIALS });
  });

  afterAll(() => server?.stop());

  it('is reachable when its bucket answers, and unreachable for a bucket that does not exist', async () => {
    await driver.checkReachable(new AbortController().signal);
    const missing = new S3StorageDriver({
      bucket: 'no-such-bucket',
      endpoint: server.endpoint,
      region: 'us-east-1',
      ...S3RVER_CREDENTIALS,
    });
    await expect(missing.checkReachable(new AbortController().signal)).rejects.toThrow();
  });

  it('round-trips a Buffer', async () => {
    const data = randomBytes(1000);
    await driver.put('originals/2026/11/23/a.jpg', data, 'image/jpeg');

    expect((await buffer(await driver.get('originals/2026/11/23/a.jpg'))).equals(data)).toBe(true);
    expect(await driver.stat('originals/2026/11/23/a.jpg')).toEqual({ bytes: 1000, contentType: 'image/jpeg' });
  });

  it('round-trips a stream large enough to be uploaded in parts', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 17);
    await driver.put('outputs/b.png', chunked(data, 64 * 1024), 'image/png');

    expect((await buffer(await driver.get('outputs/b.png'))).equals(data)).toBe(true);
    expect(await driver.stat('outputs/b.png')).toEqual({ bytes: data.length, contentType: 'image/png' });
  });

  it('round-trips a stream smaller than one part', async () => {
    const data = randomBytes(100 * 1024);
    await driver.put('outputs/c.webp', chunked(data, 16 * 1024), 'image/webp');

    expect((await buffer(await driver.get('outputs/c.webp'))).equals(data)).toBe(true);
    expect(await driver.stat('outputs/c.webp')).toEqual({ bytes: data.length, contentType: 'image/webp' });
  });

  it('asks the store for the bytes of a range only', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    await driver.put('outputs/r.jpg', data, 'image/jpeg');
    const proxy = await startCountingProxy(server.endpoint);
    try {
      const proxied = new S3StorageDriver({ bucket: BUCKET, endpoint: proxy.endpoint, region: 'us-east-1', ...S3RVER_CREDENTIALS });
      const range = await buffer(await proxied.get('outputs/r.jpg', { start: 1_048_576, end: 1_048_675 }));

      expect(range.equals(data.subarray(1_048_576, 1_048_676))).toBe(true);
      expect(proxy.take()).toMatchObject({ requests: new Map([['GET', 1]]), bytesDown: 100 });
    } finally {
      await proxy.stop();
    }
  });

  it('gives exactly the bytes of a range even when the store answers more (s3rver, for a range ending at byte 0)', async () => {
    const data = randomBytes(1000);
    await driver.put('outputs/first.jpg', data, 'image/jpeg');

    expect(await buffer(await driver.get('outputs/first.jpg', { start: 0, end: 0 }))).toEqual(data.subarray(0, 1));
  });

  it('leaves no object when the source stream fails within the first part', async () => {
    await expect(driver.put('uploads/d.jpg', failingStream(1024 * 1024), 'image/jpeg')).rejects.toThrow('client went away');
    expect(await driver.stat('uploads/d.jpg')).toBeNull();
  });

  it('leaves no object when the source stream fails after some parts', async () => {
    // s3rver answers AbortMultipartUpload with 405, and Upload reports that instead of the source's error.
    await expect(driver.put('uploads/d.jpg', failingStream(6 * 1024 * 1024), 'image/jpeg')).rejects.toThrow();
    expect(await driver.stat('uploads/d.jpg')).toBeNull();
  });

  it('reports missing objects', async () => {
    expect(await driver.stat('originals/missing.jpg')).toBeNull();
    await expect(driver.get('originals/missing.jpg')).rejects.toThrow(StorageObjectNotFoundError);
    await expect(driver.get('originals/missing.jpg')).rejects.toThrow('originals/missing.jpg');
  });

  it('deletes idempotently', async () => {
    await driver.put('outputs/e.png', Buffer.from('x'), 'image/png');
    await driver.delete('outputs/e.png');
    expect(await driver.stat('outputs/e.png')).toBeNull();
    await expect(driver.delete('outputs/e.png')).resolves.toBeUndefined();
  });

  it('presigns a PUT a plain HTTP client can upload to', async () => {
    const data = randomBytes(200 * 1024);
    const url = await driver.presignPut('uploads/f.jpg', 'image/jpeg', 300);

    const response = await fetch(url, { method: 'PUT', body: data, headers: { 'Content-Type': 'image/jpeg' } });
    expect(response.status).toBe(200);

    expect((await buffer(await driver.get('uploads/f.jpg'))).equals(data)).toBe(true);
    expect(await driver.stat('uploads/f.jpg')).toEqual({ bytes: data.length, contentType: 'image/jpeg' });
  });

  // s3rver does not check SigV4 signatures at all, so what a real store would enforce is read off the URL.
  it('presigns a PUT bound to the content type, for the given time, without a precomputed checksum', async () => {
    const url = new URL(await driver.presignPut('uploads/g.jpg', 'image/jpeg', 300));

    expect(url.pathname).toBe(`/${BUCKET}/uploads/g.jpg`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toContain('content-type');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect([...url.searchParams.keys()].filter((name) => /checksum/i.test(name))).toEqual([]);
  });

  it('refuses invalid keys before any request', async () => {
    for (const key of ['../escape.jpg', '/a.jpg', 'a//b.jpg', 'a b.jpg']) {
      await expect(driver.put(key, Buffer.from('x'), 'image/jpeg')).rejects.toThrow('Invalid storage key');
      await expect(driver.put(key, Readable.from([Buffer.from('x')]), 'image/jpeg')).rejects.toThrow('Invalid storage key');
      await expect(driver.get(key)).rejects.toThrow('Invalid storage key');
      await expect(driver.stat(key)).rejects.toThrow('Invalid storage key');
      await expect(driver.delete(key)).rejects.toThrow('Invalid storage key');
      await expect(driver.presignPut(key, 'image/jpeg', 60)).rejects.toThrow('Invalid storage key');
    }
  });
});
