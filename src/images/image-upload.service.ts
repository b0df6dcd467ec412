import {
  HttpException,
  Injectable,
  PayloadTooLargeException,
  UnprocessableEntityException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppConfig } from '../config/app-config';
import { newStorageKey } from '../storage/storage-key';
import { StorageDriver } from '../storage/storage.driver';
import { acceptedFormat, IMAGE_FORMATS, ImageFormat } from './image-formats';
import { ImageCheckCrashed, ImageHeader, ImageInspector } from './image-inspector';

/** What the server knows of a stored, checked image file. */
export interface StoredImageFile {
  key: string;
  width: number;
  height: number;
  format: ImageFormat;
  bytes: number;
  sha256: string;
}

const ACCEPTED = Object.keys(IMAGE_FORMATS).join(', ');

/**
 * Receives image files. The bytes are streamed to a scratch file (counted and hashed on the way,
 * cut off past MAX_UPLOAD_BYTES), checked there, and only then written to storage: a refused
 * upload leaves nothing behind. The check reads the header first, so a decompression bomb is
 * refused by its declared size before any pixel is decoded, then decodes the whole image, so a
 * truncated file is refused too. sharp reads the file in a process of its own (ImageInspector),
 * so that a file which crashes the decoder costs that process, never the API.
 */
@Injectable()
export class ImageUploadService {
  private readonly scratchDir: string;

  constructor(
    private readonly storage: StorageDriver,
    private readonly config: AppConfig,
    private readonly inspector: ImageInspector,
  ) {
    this.scratchDir = join(config.DATA_DIR, 'tmp');
  }

  /** Checks and stores an upload under a new key. */
  async store(body: Readable, declaredBytes?: number): Promise<StoredImageFile> {
    if (declaredBytes !== undefined && declaredBytes > this.config.MAX_UPLOAD_BYTES) throw this.tooLarge();
    return this.withScratchFile(async (scratch) => {
      const { bytes, sha256 } = await this.receive(body, scratch);
      const { format, width, height } = await this.inspect(scratch);
      const key = newStorageKey('originals', IMAGE_FORMATS[format].extension);
      await this.storage.put(key, createReadStream(scratch), IMAGE_FORMATS[format].mime);
      return { key, width, height, format, bytes, sha256 };
    });
  }

  /** Checks an object a client put in storage directly (a presigned upload); a bad one is deleted. */
  async adopt(key: string): Promise<StoredImageFile> {
    return this.withScratchFile(async (scratch) => {
      try {
        const { bytes, sha256 } = await this.receive(await this.storage.get(key), scratch);
        const { format, width, height } = await this.inspect(scratch);
        return { key, width, height, format, bytes, sha256 };
      } catch (error) {
        await this.storage.delete(key);
        throw error;
      }
    });
  }

  private async withScratchFile<T>(work: (path: string) => Promise<T>): Promise<T> {
    await mkdir(this.scratchDir, { recursive: true });
    const scratch = join(this.scratchDir, `${randomUUID()}.upload`);
    try {
      return await work(scratch);
    } finally {
      await unlink(scratch).catch(() => undefined);
    }
  }

  private async receive(body: Readable, path: string): Promise<{ bytes: number; sha256: string }> {
    const hash = createHash('sha256');
    let bytes = 0;
    const limit = this.config.MAX_UPLOAD_BYTES;
    const meter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        bytes += chunk.length;
        if (bytes > limit) return done(this.tooLarge());
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // The source is piped, not handed to pipeline(): a refused request must stay open long enough
    // to carry its 413 back, so it is unpiped, never destroyed.
    body.on('error', (error) => meter.destroy(error));
    body.pipe(meter);
    try {
      await pipeline(meter, createWriteStream(path));
    } finally {
      body.unpipe(meter);
    }
    if (bytes === 0) throw invalidImage('The upload is empty');
    return { bytes, sha256: hash.digest('hex') };
  }

  private async inspect(path: string): Promise<{ format: ImageFormat; width: number; height: number }> {
    let metadata: ImageHeader;
    try {
      metadata = await this.inspector.header(path);
    } catch (error) {
      if (error instanceof ImageCheckCrashed) throw invalidImage(`The image could not be checked: ${error.message}`);
      throw new UnsupportedMediaTypeException(`The file is not an image in an accepted format (${ACCEPTED})`);
    }
    const format = acceptedFormat(metadata);
    if (!format) {
      throw new UnsupportedMediaTypeException(`Images in ${metadata.format} format are not accepted; send ${ACCEPTED}`);
    }
    const width = metadata.width ?? 0;
    const height = metadata.pageHeight && metadata.pages ? metadata.pageHeight * metadata.pages : (metadata.height ?? 0);
    if (width * height > this.config.MAX_PIXELS) {
      throw invalidImage(`The image is ${width}×${height} pixels, more than the ${this.config.MAX_PIXELS}-pixel limit`);
    }
    try {
      // At 1/8 scale: a tenth of a full decode's cost where the format shrinks on load.
      await this.inspector.decode(path, Math.max(1, Math.ceil(width / 8)), this.config.MAX_PIXELS);
    } catch (error) {
      if (error instanceof ImageCheckCrashed) throw invalidImage(`The image could not be checked: ${error.message}`);
      throw invalidImage(`The image is corrupt or truncated: ${(error as Error).message}`);
    }
    return { format, width: metadata.width ?? width, height: metadata.height ?? height };
  }

  private tooLarge(): HttpException {
    return new PayloadTooLargeException(`The file is larger than the ${this.config.MAX_UPLOAD_BYTES}-byte limit`);
  }
}

function invalidImage(message: string): UnprocessableEntityException {
  return new UnprocessableEntityException({ message, details: [{ field: 'file', message }] });
}
