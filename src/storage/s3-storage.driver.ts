import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { assertValidStorageKey } from '../pipelines/storage-key';
import { ByteRange, StorageDriver, StorageObjectNotFoundError, StoredObjectInfo } from './storage.driver';

export interface S3StorageOptions {
  bucket: string;
  /** Set for MinIO-like stores, which are then addressed path-style. */
  endpoint?: string;
  region: string;
  /** Without both keys the SDK's default credential chain applies (environment, instance role, ...). */
  accessKeyId?: string;
  secretAccessKey?: string;
}

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404;
}

/** The S3 client's settings for an installation's bucket: the storage driver's, and the resumable uploads' (src/uploads). */
export function s3ClientConfig(options: Omit<S3StorageOptions, 'bucket'>): S3ClientConfig {
  return {
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: Boolean(options.endpoint),
    credentials:
      options.accessKeyId && options.secretAccessKey
        ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
        : undefined,
    // By default the SDK sends streamed bodies aws-chunked with a trailing checksum, which some
    // S3-compatible stores (s3rver among them) save verbatim, framing included; and it puts the CRC32 of
    // an empty body into presigned PUT URLs, so that S3 would refuse the client's actual bytes.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export class S3StorageDriver extends StorageDriver {
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3StorageOptions) {
    super();
    this.bucket = options.bucket;
    this.client = new S3Client(s3ClientConfig(options));
  }

  async put(key: string, body: Readable | Buffer, contentType: string): Promise<void> {
    assertValidStorageKey(key);
    const params = { Bucket: this.bucket, Key: key, ContentType: contentType };
    if (Buffer.isBuffer(body)) {
      await this.client.send(new PutObjectCommand({ ...params, Body: body, ContentLength: body.length }));
      return;
    }
    // Multipart for streams of unknown length: memory stays at a few parts, and S3 shows the object only
    // once the upload completes; a failed upload is aborted so no parts linger.
    await new Upload({ client: this.client, params: { ...params, Body: body } }).done();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidStorageKey(key);
    try {
      const { Body, ContentLength, ContentRange } = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range && `bytes=${range.start}-${range.end}` }),
      );
      if (!(Body instanceof Readable)) throw new Error(`S3 returned no readable body for "${key}"`);
      if (!range || ContentLength === range.end - range.start + 1) return Body;
      return rangeOf(Body, ContentRange, range, key);
    } catch (error) {
      if (isNotFound(error)) throw new StorageObjectNotFoundError(key);
      throw error;
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    assertValidStorageKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { bytes: head.ContentLength ?? 0, contentType: head.ContentType ?? null };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidStorageKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** The bucket answers and these credentials may use it. */
  async checkReachable(signal: AbortSignal): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
  }

  async presignPut(key: string, contentType: string, expiresInSeconds: number): Promise<string> {
    assertValidStorageKey(key);
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType });
    // Signing the type makes the store refuse an upload declaring another one; otherwise the object
    // would take whatever Content-Type the client sends.
    return getSignedUrl(this.client, command, {
      expiresIn: expiresInSeconds,
      signableHeaders: new Set(['content-type']),
    });
  }
}

/**
 * The bytes of `range` from a store that answered more than them: some S3-compatible stores do
 * (s3rver answers a range ending at byte 0 with the whole object). What they sent starts at the
 * first position of their Content-Range, or at 0 without one; it must start at or before the range.
 */
function rangeOf(body: Readable, contentRange: string | undefined, range: ByteRange, key: string): Readable {
  const sentFrom = contentRange === undefined ? 0 : Number(/^bytes (\d+)-/.exec(contentRange)?.[1] ?? NaN);
  if (!(sentFrom <= range.start)) {
    body.destroy();
    throw new Error(`The store answered "${contentRange}" for bytes ${range.start}-${range.end} of "${key}"`);
  }
  return Readable.from(
    (async function* () {
      let position = sentFrom;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        const from = Math.max(0, range.start - position);
        const to = Math.min(chunk.length, range.end + 1 - position);
        if (to > from) yield chunk.subarray(from, to);
        position += chunk.length;
        if (position > range.end) return;
      }
    })(),
  );
}
