import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Principal } from '../identity/principal';
import { invalidField, assertBodyIdMatches } from '../common/api-errors';
import { Selection } from '../pipelines/selection';
import { AppConfig } from '../config/app-config';
import { assertStorageAfterWrite, precheckStorage, quotaDefaults } from '../quotas/quotas';
import { ImageType } from '../image-types/image-type.entity';
import { ImageTypesService } from '../image-types/image-types.service';
import { JobRepository } from '../job-runs/job.repository';
import { PresetsService } from '../presets/presets.service';
import { ORIGINAL_IMAGE_TYPE } from '../job-types/operation-catalog';
import { CreateImageDto } from './dto/create-image.dto';
import { UpdateImageDto } from './dto/update-image.dto';
import type { StoredImageFile } from './image-upload.service';
import { Image } from './image.entity';
import { ImageHooks } from './image.hooks';
import { IMAGE_STATUS } from '../pipelines/image-states';
import { ImageRepository, ImageRow } from './image.repository';

const MAX_IDS_SHOWN = 10;

/**
 * Images as records: their rows, their owners' storage counted against the quota, the lists.
 * What is stored in the files themselves (uploads, downloads, deletions) is ImageFilesService's.
 */
@Injectable()
export class ImagesService {
  constructor(
    private readonly images: ImageRepository,
    private readonly imageTypes: ImageTypesService,
    private readonly jobRows: JobRepository,
    private readonly presets: PresetsService,
    private readonly hooks: ImageHooks,
    private readonly config: AppConfig,
  ) {}

  /** A bounded page of the index (`selection.limit` set), as rows ready to answer with. */
  async list(principal: Principal, selection: Selection): Promise<ImageRow[]> {
    return this.images.list(await this.scoped(principal, selection));
  }

  /** The whole index (`n=all`) as JSON rows from a cursor; a selection that cannot be read fails here, before any row. */
  async streamAll(principal: Principal, selection: Selection): Promise<AsyncIterableIterator<string[]>> {
    return this.images.stream(await this.scoped(principal, selection));
  }

  /** An image as `GET /api/images/:id` answers it, as JSON text, read in one statement. */
  async readJson(principal: Principal, id: number): Promise<string> {
    const image = await this.images.findJson(id);
    if (!image || !principal.owns(image.userId)) throw new NotFoundException(`No image with id ${id}`);
    return image.json;
  }

  /** An image the caller may see; someone else's is as absent as a missing one. */
  async findOne(principal: Principal, id: number): Promise<Image> {
    const image = await this.images.findWithDetails(id);
    if (!image || !principal.owns(image.userId)) throw new NotFoundException(`No image with id ${id}`);
    return image;
  }

  /**
   * A new image record; with `file` (already stored), its original, the owner's storage quota
   * checked exactly. `alongside` runs in the record's transaction: what must be written with the
   * image or not at all (a resumable upload's completion).
   */
  async create(
    principal: Principal,
    dto: CreateImageDto,
    file?: StoredImageFile,
    alongside?: (manager: EntityManager, image: Image) => Promise<void>,
  ): Promise<Image> {
    const userId = principal.ownerFor(dto.user_id);
    const imageType = (await this.resolveImageType(dto)) ?? (file ? await this.imageTypes.findByName(ORIGINAL_IMAGE_TYPE) : null);
    const originalId =
      dto.original_id === undefined ? null : (await this.requireOwned(principal, dto.original_id, userId, 'original_id')).id;
    await this.presets.assertExist(dto.presets ?? [], 'presets');
    const image = await this.images.transaction(async (manager) => {
      const inserted = await this.images.insert(manager, {
        status: file ? IMAGE_STATUS.originalStored : IMAGE_STATUS.created,
        userId,
        imageTypeId: imageType?.id ?? null,
        originalId,
        eagerPresets: dto.presets ?? [],
        ...(file ? fileColumns(file) : {}),
      });
      if (file) await assertStorageAfterWrite(manager, userId, quotaDefaults(this.config), file.bytes, 'this file');
      if (alongside) await alongside(manager, inserted);
      return inserted;
    });
    // Answered from the INSERT itself: a new image has no histogram, and its type was just read.
    image.imageType = imageType ?? null;
    image.histogram = null;
    return image;
  }

  /** `PUT /api/images/:id` without `s3_key`: the record's own fields. */
  async update(principal: Principal, id: number, dto: UpdateImageDto): Promise<Image> {
    assertBodyIdMatches(dto.id, id);
    const image = await this.findOne(principal, id);
    const changes = await this.changesOf(principal, image, dto);
    if (Object.keys(changes).length > 0) await this.images.update(id, changes);
    return this.findOne(principal, id);
  }

  /** What a `PUT /api/images/:id` body changes in the record, each field checked. */
  async changesOf(principal: Principal, image: Image, dto: UpdateImageDto): Promise<Partial<Image>> {
    const changes: Partial<Image> = {};
    if (dto.user_id !== undefined) changes.userId = principal.ownerFor(dto.user_id);
    const imageType = await this.resolveImageType(dto);
    if (imageType !== undefined) changes.imageTypeId = imageType.id;
    if (dto.original_id !== undefined) {
      if (dto.original_id === image.id) throw invalidField('original_id', 'An image cannot be derived from itself');
      changes.originalId = (await this.requireOwned(principal, dto.original_id, changes.userId ?? image.userId, 'original_id')).id;
    }
    return changes;
  }

  /**
   * The image's row goes, even while a job works on it: in the same transaction every queued or
   * running job of that image fails with the reason, and its worker is told to stop. An image
   * that is a job's output leaves that job's outputs in the same transaction, so the job and its
   * download list only what exists (the image's row first, then the job's: the order
   * JobRepository.finish takes them in). The file is the caller's to release.
   */
  /**
   * Deletes the image, and the images that go with it (its derivatives' images: ImageHooks), in one
   * transaction; answers it and the files they no longer point at, for the caller to release.
   */
  async remove(principal: Principal, id: number): Promise<{ image: Image; files: string[] }> {
    const image = await this.findOne(principal, id);
    const { failed, files } = await this.images.transaction(async (manager) => {
      const stopped = await this.jobRows.failJobsOfImage(manager, id);
      const dependents = await this.images.deleteReturning(manager, await this.hooks.dependentsOf(manager, id));
      for (const dependent of dependents) await this.jobRows.removeOutput(manager, dependent.jobId!, dependent.id);
      await this.images.delete(manager, id);
      if (image.jobId !== null) await this.jobRows.removeOutput(manager, image.jobId, id);
      const keys = [image.s3Key, ...dependents.map((dependent) => dependent.s3Key)].filter((key): key is string => key !== null);
      return { failed: stopped, files: keys };
    });
    this.jobRows.countFailed(failed);
    return { image, files };
  }

  /**
   * The early check of an upload for `userId`, before anything is stored (see precheckStorage):
   * `declaredBytes` more (null: unknown), less `freedBytes` of a file it replaces.
   */
  precheckStorage(userId: number, declaredBytes: number | null, freedBytes = 0): Promise<void> {
    return precheckStorage(this.images.manager, userId, quotaDefaults(this.config), declaredBytes, freedBytes);
  }

  /**
   * Records a stored file as the image's original, with `changes` to the record, and answers the
   * key of the file it replaces (null: none). The image's row is locked and checked again first:
   * a job or an output that appeared while the file was uploading refuses it (a job's insert, and
   * an output's, wait on that lock, so none can slip in between the check and the write). The
   * owner's storage quota is checked exactly once the row is written.
   */
  async recordFile(image: Image, file: StoredImageFile, changes: Partial<Image>): Promise<string | null> {
    // Read before the transaction, not in it: a query on another pool connection while the
    // transaction holds one deadlocks the pool once as many uploads as it has connections do it at once.
    const typeId = changes.imageTypeId ?? image.imageTypeId ?? (await this.imageTypes.findByName(ORIGINAL_IMAGE_TYPE)).id;
    return this.images.transaction(async (manager) => {
      const locked = await this.images.lockForUpdate(manager, image.id);
      if (!locked) throw new NotFoundException(`No image with id ${image.id}`);
      await this.assertReplaceable(locked, manager);
      const imageTypeId = changes.imageTypeId ?? locked.imageTypeId ?? typeId;
      await this.images.update(image.id, { ...changes, ...fileColumns(file), imageTypeId, status: IMAGE_STATUS.originalStored }, manager);
      const ownerId = changes.userId ?? locked.userId;
      const freed = ownerId === locked.userId ? (locked.bytes ?? 0) : 0;
      await assertStorageAfterWrite(manager, ownerId, quotaDefaults(this.config), file.bytes - freed, 'this file');
      return locked.s3Key;
    });
  }

  /** The histogram bins of a histogram image of `userId`, named by id or by storage key. */
  histogramOf(userId: number, target: { imageId: number } | { s3Key: string }): Promise<number[] | null> {
    return this.images.histogramBins(userId, target);
  }

  private async scoped(principal: Principal, selection: Selection): Promise<Selection> {
    if (selection.imageType !== null) await this.assertImageTypeExists(selection.imageType, 'image_type');
    return principal.scope(selection);
  }

  /** Image `imageId` of user `userId`, named by a body's `field` (see notAnImageOf for the refusals). */
  async requireOwned(principal: Principal, imageId: number, userId: number, field: string): Promise<Image> {
    const [image] = await this.images.findByIds([imageId]);
    if (!image || image.userId !== userId) throw notAnImageOf(principal, field, imageId, image ?? null, userId);
    return image;
  }

  /**
   * The images `imageIds` name, read in one query, and a check of each as requireOwned makes it:
   * for a batch of jobs, one round trip instead of one per job.
   */
  async ownedImages(imageIds: number[]): Promise<(principal: Principal, imageId: number, userId: number, field: string) => Image> {
    const found = await this.images.findByIds(imageIds);
    const byId = new Map(found.map((image) => [image.id, image]));
    return (principal, imageId, userId, field) => {
      const image = byId.get(imageId);
      if (!image || image.userId !== userId) throw notAnImageOf(principal, field, imageId, image ?? null, userId);
      return image;
    };
  }

  /**
   * An original can be replaced only while nothing was made from it: not while a job works on it
   * (its outputs would mix two photographs), and not once it has outputs (they would no longer be
   * of it). A job's output is never replaced.
   */
  async assertReplaceable(image: Image, manager?: EntityManager): Promise<void> {
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
    const outputs = await this.images.outputsOf(image.id, manager);
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
    blurhash: null,
    dominantColor: null,
  };
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
