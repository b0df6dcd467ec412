import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import { DataStore, ERRORS, type KvStore, Upload } from '@tus/utils';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AppConfig } from '../config/app-config';
import { s3ClientConfig } from '../storage/s3-storage.driver';

/** A tus store whose finished uploads' bytes can be read back, to be checked and stored as an image's file. */
export interface UploadBytes {
  store: DataStore;
  read(id: string): Promise<Readable>;
}

/**
 * Where uploads' bytes wait until they are complete, seen alike by every API node: with
 * STORAGE=local, files under DATA_DIR/uploads (each with its `.json` info, which FileStore keeps
 * beside it; DATA_DIR is every node's in local mode); with STORAGE=s3, one S3 multipart upload per
 * upload in the installation's bucket, its info in `<id>.info` and a part smaller than S3's
 * minimum in `<id>.part`. Unfinished uploads expire UPLOAD_EXPIRY after their creation.
 */
export function createUploadBytes(config: AppConfig): UploadBytes {
  const expirationPeriodInMilliseconds = config.UPLOAD_EXPIRY * 1000;
  if (config.STORAGE === 'local') {
    const store = new FileStore({ directory: join(config.DATA_DIR, 'uploads'), expirationPeriodInMilliseconds });
    return { store, read: async (id) => store.read(id) };
  }
  const store = new S3UploadStore({
    s3ClientConfig: {
      bucket: config.S3_BUCKET!,
      ...s3ClientConfig({
        region: config.S3_REGION,
        endpoint: config.S3_ENDPOINT,
        accessKeyId: config.S3_ACCESS_KEY_ID,
        secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      }),
    },
    expirationPeriodInMilliseconds,
    // Expiry is deleteExpired's (UploadExpiry), not a bucket lifecycle rule reading tags.
    useTags: false,
    cache: new NoCache(),
  });
  return { store, read: (id) => store.read(id) };
}

/**
 * S3Store, deleting completed uploads too: its own remove() stops at the multipart upload, which
 * S3 no longer knows once completed, and leaves the object and its `.info` behind.
 */
class S3UploadStore extends S3Store {
  override async remove(id: string): Promise<void> {
    try {
      await super.remove(id);
    } catch (error) {
      if (error !== ERRORS.FILE_NOT_FOUND) throw error;
      await this.client.deleteObjects({
        Bucket: this.bucket,
        Delete: { Objects: [{ Key: id }, { Key: `${id}.info` }, { Key: `${id}.part` }] },
      });
    }
  }
}

/**
 * S3Store caches each upload's info in its process by default; another node's write (a declared
 * length, a completion) would then go unseen. Read from the bucket every time instead.
 */
class NoCache<T> implements KvStore<T> {
  async get(): Promise<T | undefined> {
    return undefined;
  }

  async set(): Promise<void> {}

  async delete(): Promise<void> {}
}

/**
 * The tus store as the server sees it: `inner`, except for uploads already made into an image,
 * whose bytes are gone from it. Those read as complete (offset = length), take no more bytes, and
 * are not removed again, so that a retried final PATCH reaches the completion again (tus calls it
 * once the offset is the length), which answers with the image it made. `completed` answers the
 * length of a completed upload, null for any other.
 */
export class CompletedUploadsStore extends DataStore {
  constructor(
    private readonly inner: DataStore,
    private readonly completed: (id: string) => Promise<number | null>,
  ) {
    super();
    this.extensions = inner.extensions;
  }

  override create(upload: Upload): Promise<Upload> {
    return this.inner.create(upload);
  }

  override async remove(id: string): Promise<void> {
    if ((await this.completed(id)) === null) await this.inner.remove(id);
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    if ((await this.completed(id)) === null && !(offset > 0 && (await this.hasAllBytes(id)))) return this.inner.write(stream, id, offset);
    // tus lets no byte past the length through: there is nothing to read but the end.
    for await (const chunk of stream) void chunk;
    return offset;
  }

  /**
   * Whether the inner store holds the whole upload: a retried final PATCH of an upload whose image
   * was refused (S3Store cannot write, even nothing, to a multipart upload it has completed).
   */
  private async hasAllBytes(id: string): Promise<boolean> {
    const upload = await this.inner.getUpload(id);
    return upload.size !== undefined && upload.offset === upload.size;
  }

  override async getUpload(id: string): Promise<Upload> {
    const size = await this.completed(id);
    return size === null ? this.inner.getUpload(id) : new Upload({ id, size, offset: size });
  }

  override declareUploadLength(id: string, length: number): Promise<void> {
    return this.inner.declareUploadLength(id, length);
  }

  override deleteExpired(): Promise<number> {
    return this.inner.deleteExpired();
  }

  override getExpiration(): number {
    return this.inner.getExpiration();
  }
}
