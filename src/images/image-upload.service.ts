import { HttpException, Injectable, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Readable, Transform, TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidField } from '../pipelines/invalid-input.error';
import { AppConfig } from '../config/app-config';
import { newStorageKey } from '../pipelines/storage-key';
import { StorageDriver } from '../storage/storage.driver';
import { IMAGE_FORMATS, ImageFormat } from '../pipelines/image-formats';
import { ImageStructure, ImageStructureCheck, UnsupportedImageError } from './image-structure';

/** What the server knows of a stored, checked image file. */
export interface StoredImageFile {
  key: string;
  width: number;
  height: number;
  format: ImageFormat;
  bytes: number;
  sha256: string;
}

/**
 * The upload's bytes on their way to storage: counted (cut off past the size limit), hashed and
 * checked (ImageStructureCheck), each chunk looked at once. Once the check has failed nothing
 * more goes on, but the bytes are still counted to the end, so that an upload over the size limit
 * is answered 413 whatever it holds; the failure ends the stream, and with it the write to
 * storage, as an error.
 */
class CheckedUpload extends Transform {
  private readonly hash = createHash('sha256');
  private readonly check: ImageStructureCheck;
  private bytes = 0;
  private failure: Error | null = null;
  private structure: ImageStructure | null = null;
  /** Settles once the format is known, or with the reason there is none. */
  readonly format: Promise<ImageFormat>;

  constructor(
    private readonly maxBytes: number,
    maxPixels: number,
    private readonly tooLarge: () => HttpException,
  ) {
    super();
    let named: (format: ImageFormat) => void = () => undefined;
    let unnamed: (error: Error) => void = () => undefined;
    this.format = new Promise((resolve, reject) => {
      named = resolve;
      unnamed = reject;
    });
    this.format.catch(() => undefined);
    this.check = new ImageStructureCheck(maxPixels, (format) => named(format));
    this.once('error', (error) => unnamed(error));
    this.once('close', () => unnamed(new Error('The upload ended before its format was known')));
  }

  /** The hash, size and structure of a stream that ended without an error. */
  result(): { bytes: number; sha256: string; structure: ImageStructure } {
    return { bytes: this.bytes, sha256: this.hash.digest('hex'), structure: this.structure! };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return done(this.tooLarge());
    if (this.failure) return done();
    this.hash.update(chunk);
    try {
      this.check.push(chunk);
    } catch (error) {
      this.failure = error as Error;
      // Nothing waits for the rest of a refused upload: it is read on only to be counted.
      this.resume();
      return done();
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.bytes === 0) return done(invalidField('file', 'The upload is empty'));
    if (this.failure) return done(this.failure);
    try {
      this.structure = this.check.end();
    } catch (error) {
      return done(error as Error);
    }
    done();
  }
}

/**
 * Receives image files. The bytes go straight to their storage key, counted (cut off past
 * MAX_UPLOAD_BYTES), hashed and checked on the way: the check reads the container's structure
 * and decodes no pixel (ImageStructureCheck), so the API never loads a decoder. An upload the
 * check refuses, or that is too large, fails its write to storage and is deleted before the
 * answer: nothing is left behind. The full decode happens once, in the worker (docs/upload-check.md).
 */
@Injectable()
export class ImageUploadService {
  constructor(
    private readonly storage: StorageDriver,
    private readonly config: AppConfig,
  ) {}

  /** Checks and stores an upload under a new key. */
  async store(body: Readable, declaredBytes?: number): Promise<StoredImageFile> {
    if (declaredBytes !== undefined && declaredBytes > this.config.MAX_UPLOAD_BYTES) throw this.tooLarge();
    const upload = this.checked();
    // The source is piped, not handed to pipeline(): a refused request must stay open long enough
    // to carry its answer back, so it is unpiped, never destroyed.
    body.on('error', (error) => upload.destroy(error));
    body.pipe(upload);
    try {
      // The key's extension is the format's, which the first bytes tell.
      const format = await upload.format.catch((error: Error) => {
        throw httpError(error);
      });
      const key = newStorageKey('originals', IMAGE_FORMATS[format].extension);
      try {
        await this.storage.put(key, upload, IMAGE_FORMATS[format].mime);
      } catch (error) {
        await this.storage.delete(key);
        throw httpError(upload.errored ?? error);
      }
      return { key, ...fileOf(upload) };
    } finally {
      body.unpipe(upload);
    }
  }

  /** Checks an object a client put in storage directly (a presigned upload); a bad one is deleted. */
  async adopt(key: string): Promise<StoredImageFile> {
    const upload = this.checked();
    try {
      await pipeline(await this.storage.get(key), upload, new Writable({ write: (_chunk, _encoding, done) => done() }));
      return { key, ...fileOf(upload) };
    } catch (error) {
      await this.storage.delete(key);
      throw httpError(error);
    }
  }

  private checked(): CheckedUpload {
    return new CheckedUpload(this.config.MAX_UPLOAD_BYTES, this.config.MAX_PIXELS, () => this.tooLarge());
  }

  private tooLarge(): HttpException {
    return new PayloadTooLargeException(`The file is larger than the ${this.config.MAX_UPLOAD_BYTES}-byte limit`);
  }
}

function fileOf(upload: CheckedUpload): Omit<StoredImageFile, 'key'> {
  const { bytes, sha256, structure } = upload.result();
  return { format: structure.format, width: structure.width, height: structure.height, bytes, sha256 };
}

/** Not an accepted image is 415; the check's other refusals are InvalidInputErrors (422), the rest (storage, the client) as they came. */
function httpError(error: unknown): unknown {
  return error instanceof UnsupportedImageError ? new UnsupportedMediaTypeException(error.message) : error;
}
