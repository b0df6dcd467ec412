import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { EntityManager, In, Repository } from 'typeorm';
import { Principal } from '../auth/principal';
import { invalidField, assertBodyIdMatches, invalidFields } from '../common/api-errors';
import { validationDetails } from '../common/invalid-input.error';
import { BODY_VALIDATION } from '../common/api-validation.pipe';
import { Selection } from '../pipelines/selection';
import { AppConfig } from '../config/app-config';
import { assertStorageAfterWrite, precheckStorage, quotaDefaults } from '../quotas/quotas';
import { Histogram } from '../histograms/histogram.entity';
import { ImageType } from '../image-types/image-type.entity';
import { ImageTypesService } from '../image-types/image-types.service';
import { JobRepository } from '../jobs/job.repository';
import { entityFromRow } from '../database/entity-from-row';
import { ORIGINAL_IMAGE_TYPE } from '../job-types/operation-catalog';
import { FileReferences } from '../storage/file-references';
import { PresignUnsupportedError, StorageDriver } from '../storage/storage.driver';
import { CreateImageDto } from './dto/create-image.dto';
import { UpdateImageDto } from './dto/update-image.dto';
import { formatOf } from './image-formats';
import { ImageUploadService, StoredImageFile } from './image-upload.service';
import { Image, IMAGE_STATUS } from './image.entity';
import { ImageRepository, ImageRow } from './image.repository';
import { readMultipartUpload } from './multipart-upload';

const PRESIGNED_URL_SECONDS = 900;
const NUMERIC_FORM_FIELDS = ['user_id', 'image_type_id', 'original_id'];
const MAX_IDS_SHOWN = 10;

export interface ImageFileDownload {
  stream: Readable;
  bytes: number;
  mime: string;
  filename: string;
  etag: string;
}

@Injectable()
export class ImagesService {
  constructor(
    @InjectRepository(Image) private readonly images: Repository<Image>,
    private readonly imageRows: ImageRepository,
    private readonly imageTypes: ImageTypesService,
    private readonly uploads: ImageUploadService,
    private readonly storage: StorageDriver,
    private readonly jobRows: JobRepository,
    private readonly files: FileReferences,
    private readonly config: AppConfig,
  ) {}

  /** A bounded page of the index (`selection.limit` set), as rows ready to answer with. */
  async list(principal: Principal, selection: Selection): Promise<ImageRow[]> {
    return this.imageRows.list(await this.scoped(principal, selection));
  }

  /** The whole index (`n=all`) as JSON rows from a cursor; a selection that cannot be read fails here, before any row. */
  async streamAll(principal: Principal, selection: Selection): Promise<AsyncIterableIterator<string[]>> {
    return this.imageRows.stream(await this.scoped(principal, selection));
  }

  /** An image as `GET /api/images/:id` answers it, as JSON text, read in one statement. */
  async readJson(principal: Principal, id: number): Promise<string> {
    const image = await this.imageRows.findJson(id);
    if (!image || !principal.owns(image.userId)) throw new NotFoundException(`No image with id ${id}`);
    return image.json;
  }

  /** An image the caller may see; someone else's is as absent as a missing one. */
  async findOne(principal: Principal, id: number): Promise<Image> {
    const image = await this.withDetails(this.images.createQueryBuilder('image')).where('image.id = :id', { id }).getOne();
    if (!image || !principal.owns(image.userId)) throw new NotFoundException(`No image with id ${id}`);
    return image;
  }

  async create(principal: Principal, dto: CreateImageDto, file?: StoredImageFile): Promise<Image> {
    const userId = principal.ownerFor(dto.user_id);
    const imageType = (await this.resolveImageType(dto)) ?? (file ? await this.imageTypes.findByName(ORIGINAL_IMAGE_TYPE) : null);
    const originalId =
      dto.original_id === undefined ? null : (await this.requireOwned(principal, dto.original_id, userId, 'original_id')).id;
    const image = await this.images.manager.transaction(async (manager) => {
      const { raw } = await manager
        .createQueryBuilder()
        .insert()
        .into(Image)
        .values({
          status: file ? IMAGE_STATUS.originalStored : IMAGE_STATUS.created,
          userId,
          imageTypeId: imageType?.id ?? null,
          originalId,
          ...(file ? fileColumns(file) : {}),
        })
        .returning('*')
        .execute();
      if (file) await assertStorageAfterWrite(manager, userId, quotaDefaults(this.config), file.bytes, 'this file');
      return entityFromRow(manager, Image, (raw as Record<string, unknown>[])[0]);
    });
    // Answered from the INSERT itself: a new image has no histogram, and its type was just read.
    image.imageType = imageType ?? null;
    image.histogram = null;
    return image;
  }

  /** `POST /api/images` as multipart/form-data: the record and its file in one request. */
  async createFromMultipart(principal: Principal, request: Request): Promise<Image> {
    // The file's size is not known ahead (Content-Length counts the whole form): a user already
    // at their storage quota is refused before anything is read. (An admin may be uploading for
    // someone else, named in the form: only the exact check, once the owner is known.)
    if (principal.userId !== null && !principal.isAdmin)
      await precheckStorage(this.images.manager, principal.userId, quotaDefaults(this.config), null);
    const { fields, file } = await readMultipartUpload(request, (stream) => this.uploads.store(stream));
    try {
      const dto = plainToInstance(CreateImageDto, formValues(fields));
      const errors = await validate(dto, BODY_VALIDATION);
      if (errors.length > 0) throw invalidFields(validationDetails(errors));
      return await this.create(principal, dto, file);
    } catch (error) {
      await this.storage.delete(file.key);
      throw error;
    }
  }

  /** `PUT /api/images/:id/file`: stores the body as the image's original. */
  async attachFile(principal: Principal, id: number, body: Readable, declaredBytes?: number): Promise<Image> {
    const image = await this.findOne(principal, id);
    await this.assertReplaceable(image);
    await precheckStorage(this.images.manager, image.userId, quotaDefaults(this.config), declaredBytes ?? null, image.bytes ?? 0);
    return this.recordFile(principal, image, await this.uploads.store(body, declaredBytes));
  }

  /** A URL the client PUTs the original to directly; then `PUT /api/images/:id {"s3_key"}` records it. */
  async presignUpload(principal: Principal, id: number, contentType: string): Promise<{ url: string; s3_key: string; expires_in: number }> {
    const image = await this.findOne(principal, id);
    await this.assertReplaceable(image);
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

  async update(principal: Principal, id: number, dto: UpdateImageDto): Promise<Image> {
    assertBodyIdMatches(dto.id, id);
    const image = await this.findOne(principal, id);
    const file = dto.s3_key === undefined ? undefined : await this.adoptUpload(image, dto.s3_key);
    const changes: Partial<Image> = {};
    if (dto.user_id !== undefined) changes.userId = principal.ownerFor(dto.user_id);
    const imageType = await this.resolveImageType(dto);
    if (imageType !== undefined) changes.imageTypeId = imageType.id;
    if (dto.original_id !== undefined) {
      if (dto.original_id === id) throw invalidField('original_id', 'An image cannot be derived from itself');
      changes.originalId = (await this.requireOwned(principal, dto.original_id, changes.userId ?? image.userId, 'original_id')).id;
    }
    // The other fields of a body that also adopts an upload are recorded with the file, not dropped.
    if (file) return this.recordFile(principal, image, file, changes);
    if (Object.keys(changes).length > 0) await this.images.update(id, changes);
    return this.findOne(principal, id);
  }

  /**
   * The image goes, even while a job works on it: in the same transaction every queued or running
   * job of that image fails with the reason, and its worker is told to stop. An image that is a
   * job's output leaves that job's outputs in the same transaction, so the job and its download
   * list only what exists (the image's row first, then the job's: the order JobRepository.finish
   * takes them in).
   */
  async remove(principal: Principal, id: number): Promise<Image> {
    const image = await this.findOne(principal, id);
    const failed = await this.images.manager.transaction(async (manager) => {
      const stopped = await this.jobRows.failJobsOfImage(manager, id);
      await manager.delete(Image, { id });
      if (image.jobId !== null) await this.jobRows.removeOutput(manager, image.jobId, id);
      return stopped;
    });
    this.jobRows.countFailed(failed);
    if (image.s3Key) await this.deleteFile(image.s3Key);
    return image;
  }

  async openFile(principal: Principal, id: number): Promise<ImageFileDownload> {
    const image = await this.findOne(principal, id);
    if (!image.s3Key || image.bytes === null) throw new NotFoundException(`Image ${id} has no stored file yet`);
    const format = formatOf(image.format);
    return {
      stream: await this.storage.get(image.s3Key),
      bytes: image.bytes,
      mime: format.mime,
      filename: `${image.id}-${image.imageType?.typeName ?? 'image'}.${format.extension}`,
      etag: `"${image.sha256}"`,
    };
  }

  /** The histogram bins of a histogram image of `userId`, named by id or by storage key. */
  async histogramOf(userId: number, target: { imageId: number } | { s3Key: string }): Promise<number[] | null> {
    const query = this.withDetails(this.images.createQueryBuilder('image')).where('image.userId = :userId', { userId });
    if ('imageId' in target) query.andWhere('image.id = :id', { id: target.imageId });
    else query.andWhere('image.s3Key = :key', { key: target.s3Key });
    return (await query.getOne())?.histogram?.bins ?? null;
  }

  private async scoped(principal: Principal, selection: Selection): Promise<Selection> {
    if (selection.imageType !== null) await this.assertImageTypeExists(selection.imageType, 'image_type');
    return principal.scope(selection);
  }

  /** Image `imageId` of user `userId`, named by a body's `field` (see notAnImageOf for the refusals). */
  async requireOwned(principal: Principal, imageId: number, userId: number, field: string): Promise<Image> {
    const image = await this.images.findOneBy({ id: imageId });
    if (!image || image.userId !== userId) throw notAnImageOf(principal, field, imageId, image, userId);
    return image;
  }

  /**
   * The images `imageIds` name, read in one query, and a check of each as requireOwned makes it:
   * for a batch of jobs, one round trip instead of one per job.
   */
  async ownedImages(imageIds: number[]): Promise<(principal: Principal, imageId: number, userId: number, field: string) => Image> {
    const found = imageIds.length === 0 ? [] : await this.images.findBy({ id: In([...new Set(imageIds)]) });
    const byId = new Map(found.map((image) => [image.id, image]));
    return (principal, imageId, userId, field) => {
      const image = byId.get(imageId);
      if (!image || image.userId !== userId) throw notAnImageOf(principal, field, imageId, image ?? null, userId);
      return image;
    };
  }

  private withDetails(query: ReturnType<Repository<Image>['createQueryBuilder']>) {
    return query
      .leftJoinAndSelect('image.imageType', 'imageType')
      .leftJoinAndMapOne('image.histogram', Histogram, 'histogram', 'histogram.image_id = image.id');
  }

  private async adoptUpload(image: Image, key: string): Promise<StoredImageFile> {
    await this.assertReplaceable(image);
    const uploaded = key.startsWith(uploadPrefix(image.id)) ? await this.storage.stat(key) : null;
    if (!uploaded) {
      throw invalidField(
        's3_key',
        `s3_key must be a key that POST /api/images/${image.id}/upload_url issued, with the file uploaded to it`,
      );
    }
    try {
      await precheckStorage(this.images.manager, image.userId, quotaDefaults(this.config), uploaded.bytes, image.bytes ?? 0);
    } catch (error) {
      await this.deleteFile(key);
      throw error;
    }
    return this.uploads.adopt(key);
  }

  /**
   * Records a stored file as the image's original; the file it replaces is deleted afterwards. The
   * image's row is locked and checked again first: a job or an output that appeared while the file
   * was uploading refuses it (a job's insert, and an output's, wait on that lock, so none can slip
   * in between the check and the write). The owner's storage quota is checked exactly once the
   * row is written; a file refused for any reason is deleted from storage.
   */
  private async recordFile(principal: Principal, image: Image, file: StoredImageFile, changes: Partial<Image> = {}): Promise<Image> {
    let replaced: string | null;
    try {
      replaced = await this.images.manager.transaction(async (manager) => {
        const locked = await manager
          .getRepository(Image)
          .createQueryBuilder('image')
          .setLock('pessimistic_write')
          .where('image.id = :id', { id: image.id })
          .getOne();
        if (!locked) throw new NotFoundException(`No image with id ${image.id}`);
        await this.assertReplaceable(locked, manager);
        const imageTypeId = changes.imageTypeId ?? locked.imageTypeId ?? (await this.imageTypes.findByName(ORIGINAL_IMAGE_TYPE)).id;
        await manager.update(Image, image.id, { ...changes, ...fileColumns(file), imageTypeId, status: IMAGE_STATUS.originalStored });
        const ownerId = changes.userId ?? locked.userId;
        const freed = ownerId === locked.userId ? (locked.bytes ?? 0) : 0;
        await assertStorageAfterWrite(manager, ownerId, quotaDefaults(this.config), file.bytes - freed, 'this file');
        return locked.s3Key;
      });
    } catch (error) {
      await this.deleteFile(file.key);
      throw error;
    }
    if (replaced && replaced !== file.key) await this.deleteFile(replaced);
    return this.findOne(principal, image.id);
  }

  /**
   * An original can be replaced only while nothing was made from it: not while a job works on it
   * (its outputs would mix two photographs), and not once it has outputs (they would no longer be
   * of it). A job's output is never replaced.
   */
  private async assertReplaceable(image: Image, manager: EntityManager = this.images.manager): Promise<void> {
    if (image.status === IMAGE_STATUS.processed) {
      throw new ConflictException(`Image ${image.id} is the output of job ${image.jobId}; its file cannot be replaced`);
    }
    const [job, ...moreJobs] = await this.jobRows.unfinishedJobsOfImage(image.id, manager);
    if (job) {
      const others = moreJobs.length > 0 ? ` (and ${moreJobs.length} more)` : '';
      throw new ConflictException(
        `Image ${image.id} is the source of job ${job.id}${others}, which is ${job.status}; its original cannot be replaced while a job works on it: cancel the job or wait for it to end`,
      );
    }
    const outputs = await manager
      .getRepository(Image)
      .createQueryBuilder('image')
      .select(['image.id', 'image.jobId'])
      .where('image.originalId = :id', { id: image.id })
      .orderBy('image.jobId', 'ASC', 'NULLS LAST')
      .addOrderBy('image.id')
      .getMany();
    if (outputs.length > 0) {
      throw new ConflictException(
        `Image ${image.id} has outputs (${describeOutputs(outputs)}); its original cannot be replaced: upload a new image instead`,
      );
    }
  }

  /**
   * An image type filter must name an image type: an unknown one is refused (422) with the known
   * ones, rather than selecting nothing. One query reads the names.
   */
  assertImageTypeExists(name: string, field: string): Promise<void> {
    return this.imageTypes.assertExists(name, field);
  }

  /**
   * Deletes the file unless another image still points at it (a reused step's output). A file
   * left behind is harmless but wasted; a failed delete must not fail the request.
   */
  private async deleteFile(key: string): Promise<void> {
    await this.files.release([key]);
  }

  /** The image type a body names by `image_type` or `image_type_id`; `undefined` when it names none. */
  private async resolveImageType(dto: CreateImageDto): Promise<ImageType | undefined> {
    if (dto.image_type === undefined && dto.image_type_id === undefined) return undefined;
    const imageType =
      dto.image_type !== undefined
        ? await this.imageTypes.findByName(dto.image_type)
        : await this.imageTypes.findOne(dto.image_type_id!).catch(() => {
            throw invalidField('image_type_id', `There is no image type with id ${dto.image_type_id}`);
          });
    if (dto.image_type_id !== undefined && dto.image_type_id !== imageType.id) {
      throw invalidField('image_type_id', `image_type_id ${dto.image_type_id} is not the id of "${dto.image_type}"`);
    }
    return imageType;
  }
}

/** "images 7, 8 from job 3; image 9 from job 4; image 12": at most MAX_IDS_SHOWN ids, then how many more. */
function describeOutputs(outputs: Pick<Image, 'id' | 'jobId'>[]): string {
  const shown = outputs.slice(0, MAX_IDS_SHOWN);
  const groups = new Map<number | null, number[]>();
  for (const output of shown) groups.set(output.jobId, [...(groups.get(output.jobId) ?? []), output.id]);
  const parts = [...groups].map(
    ([jobId, ids]) => `${ids.length === 1 ? 'image' : 'images'} ${ids.join(', ')}${jobId === null ? '' : ` from job ${jobId}`}`,
  );
  const more = outputs.length - shown.length;
  return parts.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

function fileColumns(file: StoredImageFile): Partial<Image> {
  return {
    s3Key: file.key,
    width: file.width,
    height: file.height,
    format: file.format,
    bytes: file.bytes,
    sha256: file.sha256,
    // A new file is decoded anew: whatever was found of the one it replaces no longer holds.
    corruptReason: null,
    verifiedAt: null,
  };
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

/**
 * Someone else's image is, to a user, as absent as one that does not exist: the same 404, naming
 * no owner. Only an admin, who sees every image, is told that it belongs to another user than the
 * one the record is for (422).
 */
function notAnImageOf(principal: Principal, field: string, imageId: number, image: Image | null, userId: number): Error {
  if (!image || !principal.owns(image.userId)) return new NotFoundException(`No image with id ${imageId}`);
  return invalidField(field, `${field} ${imageId} is not an image of user ${userId}`);
}
