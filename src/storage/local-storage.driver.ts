import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidStorageKey } from '../pipelines/storage-key';
import { ByteRange, PresignUnsupportedError, StorageDriver, StorageObjectNotFoundError, StoredObjectInfo } from './storage.driver';

/** Files carry no type of their own, so it is read back from the extension `newStorageKey` gave them. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
  '.zip': 'application/zip',
};

/** Errors meaning "nothing there": ENOTDIR when a parent segment of the key is itself a file. */
function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class LocalStorageDriver extends StorageDriver {
  constructor(private readonly rootDir: string) {
    super();
  }

  /** The content type is not stored: `stat` infers it from the key's extension. */
  async put(key: string, body: Readable | Buffer, _contentType: string): Promise<void> {
    const path = this.pathOf(key);
    // Same directory as the target so that the rename cannot cross file systems and stays atomic.
    const temp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.part`);
    try {
      // Opened before any byte is read so the file exists by the time a failure removes it.
      const handle = await this.createFile(temp);
      try {
        // Synced before the rename: otherwise a crash soon after it can leave an empty or truncated file
        // under the key.
        if (Buffer.isBuffer(body)) {
          await handle.writeFile(body);
          await handle.sync();
        } else {
          await pipeline(body, handle.createWriteStream({ flush: true }));
        }
      } finally {
        // Waits for the write stream to let go of the handle, which it may not have yet when a failure
        // rejected the pipeline.
        await handle.close();
      }
      await rename(temp, path);
    } catch (error) {
      if (!Buffer.isBuffer(body)) body.destroy();
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * A new file, its directory made only when it is missing: a day's keys share one directory, so
   * nearly every put finds it there and pays no mkdir.
   */
  private async createFile(path: string): Promise<FileHandle> {
    try {
      return await open(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dirname(path), { recursive: true });
      return open(path, 'wx');
    }
  }

  /**
   * The file is opened here, so a delete racing the read cannot take it away. The stream closes it
   * at its end, on an error and when destroyed; a caller that gives up on the stream before reading
   * it must destroy it (see JobsService.openDownload), or the file stays open until garbage
   * collection closes it, with a DEP0137 warning.
   */
  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isMissing(error)) throw new StorageObjectNotFoundError(key);
      throw error;
    }
    try {
      // Opening a directory succeeds on Linux; only reading it fails, which would surface mid-stream.
      if (!(await handle.stat()).isFile()) throw new StorageObjectNotFoundError(key);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return handle.createReadStream(range && { start: range.start, end: range.end });
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    try {
      const info = await stat(this.pathOf(key));
      if (!info.isFile()) return null;
      return { bytes: info.size, contentType: CONTENT_TYPES[extname(key).toLowerCase()] ?? null };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async presignPut(key: string, _contentType: string, _expiresInSeconds: number): Promise<string> {
    assertValidStorageKey(key);
    throw new PresignUnsupportedError('Local storage cannot issue upload URLs: upload through the API instead');
  }

  /**
   * Writes and removes a probe file: permission bits say little when the server runs as root, a
   * full disk or a read-only mount only shows on a write.
   */
  async checkReachable(signal: AbortSignal): Promise<void> {
    await mkdir(this.rootDir, { recursive: true });
    const probe = join(this.rootDir, `.probe-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(probe, 'ok', { signal });
    } finally {
      await rm(probe, { force: true });
    }
  }

  private pathOf(key: string): string {
    assertValidStorageKey(key);
    return join(this.rootDir, key);
  }
}
