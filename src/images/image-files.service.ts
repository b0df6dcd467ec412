import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import { Principal } from '../identity/principal';
import { assertBodyIdMatches, invalidField, invalidFields } from '../common/api-errors';
import { validationDetails } from '../pipelines/invalid-input.error';
import { BODY_VALIDATION } from '../common/api-validation.pipe';
import { FileReferences } from '../storage/file-references';
import { ByteRange, PresignUnsupportedError, StorageDriver } from '../storage/storage.driver';
import type { StoredRepresentation } from '../common/conditional-get';
import { CreateImageDto } from './dto/create-image.dto';
import { UpdateImageDto } from './dto/update-image.dto';
import { formatOf } from '../pipelines/image-formats';
import { ImageUploadService, StoredImageFile } from './image-upload.service';
import { Image } from './image.entity';
import { ImagesService } from './images.service';
import { ImageHooks } from './image.hooks';
import { readMultipartUpload } from '../common/multipart-upload';
import { recordUploadedForm } from '../idempotency/uploaded-form';

const PRESIGNED_URL_SECONDS = 900;
const NUMERIC_FORM_FIELDS = ['user_id', 'image_type_id', 'original_id'];

/** An image's stored file, as a download answers it (src/common/conditional-get.ts). */
export interface ImageFileDownload extends StoredRepresentation {
  key: string;
  mime: string;
  filename: string;
}

/** The columns of an image that describe its stored file. */
export type StoredFileColumns = Pick<Image, 'id' | 's3Key' | 'bytes' | 'format' | 'sha256' | 'fileStoredAt'>;

/** How a download answers `image`'s file (`typeName` names the saved file); null while it has none. */
export function downloadOf(image: StoredFileColumns, typeName: string | null): ImageFileDownload | null {
  if (!image.s3Key || image.bytes === null) return null;
  const format = formatOf(image.format);
  return {
    key: image.s3Key,
    bytes: image.bytes,
    mime: format.mime,
    filename: `${image.id}-${typeName ?? 'image'}.${format.extension}`,
    etag: `"${image.sha256}"`,
    lastModified: image.fileStoredAt,
  };
}

export interface OpenedImageFile extends ImageFileDownload {
  stream: Readable;
}

/**
 * Images' files: uploads (in the request, or presigned and then adopted), downloads, and the
 * deletion of a file no image points at any more. The records they are written to are
 * ImagesService's; a file refused for any reason is deleted from storage.
 */
@Injectable()
export class ImageFilesService {
  constructor(
    private readonly records: ImagesService,
    private readonly uploads: ImageUploadService,
    private readonly storage: StorageDriver,
    private readonly files: FileReferences,
    private readonly hooks: ImageHooks,
  ) {}

  /** `POST /api/images` as multipart/form-data: the record and its file in one request. */
  async createFromMultipart(principal: Principal, request: Request): Promise<Image> {
    // The file's size is not known ahead (Content-Length counts the whole form): a user already
    // at their storage quota is refused before anything is read. (An admin may be uploading for
    // someone else, named in the form: only the exact check, once the owner is known.)
    if (principal.userId !== null && !principal.isAdmin) await this.records.precheckStorage(principal.userId, null);
    const { fields, file } = await readMultipartUpload(request, (stream) => this.uploads.store(stream));
    recordUploadedForm(request, { fields, fileSha256: file.sha256 });
    return this.recordNew(file, async () => {
      const dto = plainToInstance(CreateImageDto, formValues(fields));
      const errors = await validate(dto, BODY_VALIDATION);
      if (errors.length > 0) throw invalidFields(validationDetails(errors));
      return this.records.create(principal, dto, file);
    });
  }

  /**
   * A new image from a file of `bytes` bytes that arrived another way (a resumable upload's), with
   * `dto`'s fields: the file is checked and stored as a multipart upload's is, and recorded as
   * `POST /api/images` records it; `alongside` runs in the record's transaction (ImagesService.create).
   */
  async createFromStream(
    principal: Principal,
    dto: CreateImageDto,
    body: Readable,
    bytes: number,
    alongside?: (manager: EntityManager, image: Image) => Promise<void>,
  ): Promise<Image> {
    await this.records.precheckStorage(principal.ownerFor(dto.user_id), bytes);
    const file = await this.uploads.store(body, bytes);
    return this.recordNew(file, () => this.records.create(principal, dto, file, alongside));
  }

  /** Records a new image with its stored file (`record`); a refused record deletes the file. */
  private async recordNew(file: StoredImageFile, record: () => Promise<Image>): Promise<Image> {
    let image: Image;
    try {
      image = await record();
    } catch (error) {
      await this.storage.delete(file.key);
      throw error;
    }
    await this.hooks.originalStored(image);
    return image;
  }

  /** `PUT /api/images/:id/file`: stores the body as the image's original. */
  async attachFile(principal: Principal, id: number, body: Readable, declaredBytes?: number): Promise<Image> {
    const image = await this.records.findOne(principal, id);
    await this.records.assertReplaceable(image);
    await this.records.precheckStorage(image.userId, declaredBytes ?? null, image.bytes ?? 0);
    return this.recordFile(principal, image, await this.uploads.store(body, declaredBytes));
  }

  /** A URL the client PUTs the original to directly; then `PUT /api/images/:id {"s3_key"}` records it. */
  async presignUpload(principal: Principal, id: number, contentType: string): Promise<{ url: string; s3_key: string; expires_in: number }> {
    const image = await this.records.findOne(principal, id);
    await this.records.assertReplaceable(image);
    const key = `${uploadPrefix(id)}${randomUUID()}`;
    try {
      const url = await this.storage.presignPut(key, contentType, PRESIGNED_URL_SECONDS);
      return { url, s3_key: key, expires_in: PRESIGNED_URL_SECONDS };
    } catch (error) {
      if (error instanceof PresignUnsupportedError) {
        throw new ConflictException('Direct uploads need S3 storage (STORAGE=s3); send the file to PUT /api/images/:id/file');
      }
      throw error;
    }
  }

  /**
   * `PUT /api/images/:id` with `s3_key`: the presigned upload becomes the image's original, and
   * the body's other fields are recorded with it, not dropped.
   */
  async updateWithUpload(principal: Principal, id: number, dto: UpdateImageDto & { s3_key: string }): Promise<Image> {
    assertBodyIdMatches(dto.id, id);
    const image = await this.records.findOne(principal, id);
    const file = await this.adoptUpload(image, dto.s3_key);
    const changes = await this.records.changesOf(principal, image, dto);
    return this.recordFile(principal, image, file, changes);
  }

  /** Deletes the image (ImagesService.remove), then its file unless another image still points at it. */
  async remove(principal: Principal, id: number): Promise<Image> {
    const { image, files } = await this.records.remove(principal, id);
    if (files.length > 0) await this.files.release(files);
    return image;
  }

  /** The image's stored file, its size and validators, without reading it. */
  async findFile(principal: Principal, id: number): Promise<ImageFileDownload> {
    const image = await this.records.findOne(principal, id);
    const download = downloadOf(image, image.imageType?.typeName ?? null);
    if (!download) throw new NotFoundException(`Image ${id} has no stored file yet`);
    return download;
  }

  /** The image's stored file, opened whole (a job's download). */
  async openFile(principal: Principal, id: number): Promise<OpenedImageFile> {
    const file = await this.findFile(principal, id);
    return { ...file, stream: await this.readFile(file, null) };
  }

  /** The file's bytes, or those of `range` alone; the caller destroys a stream it does not read. */
  readFile(file: ImageFileDownload, range: ByteRange | null): Promise<Readable> {
    return this.storage.get(file.key, range ?? undefined);
  }

  private async adoptUpload(image: Image, key: string): Promise<StoredImageFile> {
    await this.records.assertReplaceable(image);
    const uploaded = key.startsWith(uploadPrefix(image.id)) ? await this.storage.stat(key) : null;
    if (!uploaded) {
      throw invalidField(
        's3_key',
        `s3_key must be a key that POST /api/images/${image.id}/upload_url issued, with the file uploaded to it`,
      );
    }
    try {
      await this.records.precheckStorage(image.userId, uploaded.bytes, image.bytes ?? 0);
    } catch (error) {
      await this.deleteFile(key);
      throw error;
    }
    return this.uploads.adopt(key);
  }

  /** Records a stored file as the image's original (ImagesService.recordFile); the file it replaces is deleted afterwards. */
  private async recordFile(principal: Principal, image: Image, file: StoredImageFile, changes: Partial<Image> = {}): Promise<Image> {
    let replaced: string | null;
    try {
      replaced = await this.records.recordFile(image, file, changes);
    } catch (error) {
      await this.deleteFile(file.key);
      throw error;
    }
    if (replaced && replaced !== file.key) await this.deleteFile(replaced);
    const recorded = await this.records.findOne(principal, image.id);
    await this.hooks.originalStored(recorded);
    return recorded;
  }

  /**
   * Deletes the file unless another image still points at it (a reused step's output). A file
   * left behind is harmless but wasted; a failed delete must not fail the request.
   */
  private async deleteFile(key: string): Promise<void> {
    await this.files.release([key]);
  }
}

/** Presigned uploads land under a prefix of their image, so a client cannot claim another object. */
function uploadPrefix(imageId: number): string {
  return `uploads/${imageId}/`;
}

/**
 * Form fields arrive as strings; ids written as whole numbers are numbers, so that the DTO's checks
 * answer them as they answer JSON: "must be an integer" for `abc` or `1.5`, the range for `0` or
 * `99999999999`.
 */
function formValues(fields: Record<string, string>): Record<string, string | number> {
  return Object.fromEntries(
    Object.entries(fields).map(([name, value]) => [
      name,
      NUMERIC_FORM_FIELDS.includes(name) && /^-?[0-9]{1,30}$/.test(value) ? Number(value) : value,
    ]),
  );
}
