import { randomBytes } from 'node:crypto';
import { existsSync, ReadStream, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { LocalStorageDriver } from './local-storage.driver';
import { PresignUnsupportedError, StorageObjectNotFoundError } from './storage.driver';

/** Yields `chunks` random chunks, then fails as a dropped client upload would. */
function failingStream(chunks: number): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < chunks; i++) yield randomBytes(64 * 1024);
      throw new Error('client went away');
    })(),
  );
}

function chunked(data: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
    })(),
  );
}

/** How many of this process's file descriptors are open on `path` (Linux: /proc/self/fd). */
function descriptorsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // the descriptor readdir itself used, closed since
    }
  }).length;
}

const onLinux = existsSync('/proc/self/fd') ? it : it.skip;

describe('LocalStorageDriver', () => {
  let root: string;
  let driver: LocalStorageDriver;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'local-storage-'));
    driver = new LocalStorageDriver(root);
  });

  afterEach(() => rm(root, { recursive: true, force: true }));

  it('is reachable when it can write under its root, which it creates, and leaves no probe behind', async () => {
    const fresh = new LocalStorageDriver(join(root, 'not', 'yet'));
    await fresh.checkReachable(new AbortController().signal);
    expect(await readdir(join(root, 'not', 'yet'))).toEqual([]);
  });

  it('is unreachable when its root cannot be made (a file is in the way)', async () => {
    await writeFile(join(root, 'file'), 'x');
    await expect(new LocalStorageDriver(join(root, 'file', 'files')).checkReachable(new AbortController().signal)).rejects.toThrow(
      /ENOTDIR|EEXIST/,
    );
  });

  it('round-trips a Buffer under join(root, key)', async () => {
    const data = randomBytes(1000);
    await driver.put('originals/2026/11/23/a.jpg', data, 'image/jpeg');

    expect((await buffer(await driver.get('originals/2026/11/23/a.jpg'))).equals(data)).toBe(true);
    expect(await readdir(join(root, 'originals/2026/11/23'))).toEqual(['a.jpg']);
    expect(await driver.stat('originals/2026/11/23/a.jpg')).toEqual({ bytes: 1000, contentType: 'image/jpeg' });
  });

  it('makes a missing directory, and finds it again after it was removed', async () => {
    await driver.put('outputs/2026/12/06/a.png', Buffer.from('a'), 'image/png');
    await driver.put('outputs/2026/12/06/b.png', Buffer.from('b'), 'image/png');
    await rm(join(root, 'outputs'), { recursive: true });
    await driver.put('outputs/2026/12/06/c.png', Buffer.from('c'), 'image/png');

    expect(await readdir(join(root, 'outputs/2026/12/06'))).toEqual(['c.png']);
  });

  it('round-trips a stream of many chunks', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await driver.put('outputs/b.png', chunked(data, 64 * 1024), 'image/png');

    expect((await buffer(await driver.get('outputs/b.png'))).equals(data)).toBe(true);
    expect(await driver.stat('outputs/b.png')).toEqual({ bytes: data.length, contentType: 'image/png' });
  });

  it('reads only the bytes of a range, from its first byte to its last', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await driver.put('outputs/r.png', data, 'image/png');

    const middle = (await driver.get('outputs/r.png', { start: 1_000_000, end: 1_000_099 })) as ReadStream;
    expect((await buffer(middle)).equals(data.subarray(1_000_000, 1_000_100))).toBe(true);
    // What the file stream read from disk: the range alone, not the bytes before it.
    expect(middle.bytesRead).toBe(100);
    expect(
      (await buffer(await driver.get('outputs/r.png', { start: data.length - 1, end: data.length - 1 }))).equals(data.subarray(-1)),
    ).toBe(true);
  });

  it('stores an empty object', async () => {
    await driver.put('uploads/empty.webp', Buffer.alloc(0), 'image/webp');
    expect(await driver.stat('uploads/empty.webp')).toEqual({ bytes: 0, contentType: 'image/webp' });
    expect((await buffer(await driver.get('uploads/empty.webp'))).length).toBe(0);
  });

  it('replaces an existing object', async () => {
    await driver.put('outputs/c.gif', Buffer.from('first'), 'image/gif');
    await driver.put('outputs/c.gif', Buffer.from('second'), 'image/gif');
    expect((await buffer(await driver.get('outputs/c.gif'))).toString()).toBe('second');
  });

  it.each([
    ['x.JPG', 'image/jpeg'],
    ['x.jpeg', 'image/jpeg'],
    ['x.tif', 'image/tiff'],
    ['x.tiff', 'image/tiff'],
    ['x.avif', 'image/avif'],
    ['x.zip', 'application/zip'],
    ['x.bin', null],
    ['x', null],
  ])('infers the type of %s as %s', async (name, contentType) => {
    await driver.put(`outputs/${name}`, Buffer.from('x'), 'application/octet-stream');
    expect(await driver.stat(`outputs/${name}`)).toEqual({ bytes: 1, contentType });
  });

  it('leaves neither object nor temp file when the source stream fails', async () => {
    await expect(driver.put('uploads/d.jpg', failingStream(8), 'image/jpeg')).rejects.toThrow('client went away');

    expect(await driver.stat('uploads/d.jpg')).toBeNull();
    expect(await readdir(join(root, 'uploads'))).toEqual([]);
  });

  it('keeps the previous object when a replacement fails', async () => {
    await driver.put('uploads/e.jpg', Buffer.from('kept'), 'image/jpeg');
    await expect(driver.put('uploads/e.jpg', failingStream(4), 'image/jpeg')).rejects.toThrow('client went away');

    expect((await buffer(await driver.get('uploads/e.jpg'))).toString()).toBe('kept');
    expect(await readdir(join(root, 'uploads'))).toEqual(['e.jpg']);
  });

  it('reports missing objects', async () => {
    expect(await driver.stat('originals/missing.jpg')).toBeNull();
    await expect(driver.get('originals/missing.jpg')).rejects.toThrow(StorageObjectNotFoundError);
    await expect(driver.get('originals/missing.jpg')).rejects.toThrow('originals/missing.jpg');
  });

  it('treats a directory, or a path through a file, as missing', async () => {
    await driver.put('originals/f.jpg', Buffer.from('x'), 'image/jpeg');

    expect(await driver.stat('originals')).toBeNull();
    await expect(driver.get('originals')).rejects.toThrow(StorageObjectNotFoundError);
    expect(await driver.stat('originals/f.jpg/g.jpg')).toBeNull();
    await expect(driver.get('originals/f.jpg/g.jpg')).rejects.toThrow(StorageObjectNotFoundError);
  });

  it('deletes idempotently', async () => {
    await driver.put('outputs/h.png', Buffer.from('x'), 'image/png');
    await driver.delete('outputs/h.png');
    expect(await driver.stat('outputs/h.png')).toBeNull();
    await expect(driver.delete('outputs/h.png')).resolves.toBeUndefined();
    await expect(driver.delete('never/was.png')).resolves.toBeUndefined();
  });

  it.each(['../escape.jpg', '/etc/passwd', 'a//b.jpg', 'a/../../b.jpg', 'a b.jpg', ''])(
    'refuses the key %j in every operation',
    async (key) => {
      await expect(driver.put(key, Buffer.from('x'), 'image/jpeg')).rejects.toThrow('Invalid storage key');
      await expect(driver.put(key, Readable.from([Buffer.from('x')]), 'image/jpeg')).rejects.toThrow('Invalid storage key');
      await expect(driver.get(key)).rejects.toThrow('Invalid storage key');
      await expect(driver.stat(key)).rejects.toThrow('Invalid storage key');
      await expect(driver.delete(key)).rejects.toThrow('Invalid storage key');
      expect(await readdir(root)).toEqual([]);
    },
  );

  describe('closes the file it opened for a read (else Node closes it on garbage collection, with DEP0137)', () => {
    const key = 'outputs/large.png';
    beforeEach(() => driver.put(key, randomBytes(4 * 1024 * 1024), 'image/png'));

    onLinux('once the stream is read to its end', async () => {
      const stream = await driver.get(key);
      expect(descriptorsOn(join(root, key))).toBe(1);
      await buffer(stream);
      if (!stream.closed) await once(stream, 'close');
      expect(descriptorsOn(join(root, key))).toBe(0);
    });

    onLinux('when the stream is destroyed midway, as a client gone mid-download makes it', async () => {
      const stream = await driver.get(key);
      await once(stream, 'data');
      stream.destroy();
      await once(stream, 'close');
      expect(descriptorsOn(join(root, key))).toBe(0);
    });

    onLinux('when the stream is destroyed before a byte is read (a 304, a request that failed)', async () => {
      const stream = await driver.get(key);
      stream.destroy();
      await once(stream, 'close');
      expect(descriptorsOn(join(root, key))).toBe(0);
    });
  });

  it('cannot presign uploads', async () => {
    await expect(driver.presignPut('uploads/i.jpg', 'image/jpeg', 60)).rejects.toThrow(PresignUnsupportedError);
  });
});
