import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Image } from './image.entity';

type StoredHook = (image: Image) => Promise<void>;
/** The ids of images that go with image `imageId` when it is deleted, read in the deletion's transaction. */
type DependentsHook = (manager: EntityManager, imageId: number) => Promise<number[]>;

/**
 * Where modules above images join an image's life, so that the images folder imports none of them
 * (src/derivatives registers both):
 * - after an original's file is stored, awaited before the upload answers (eager derivatives). A
 *   hook handles its own failures: the file is stored by then, and the upload has succeeded;
 * - when an image is deleted, the images that go with it (its derivatives' images), deleted in
 *   the same transaction.
 */
@Injectable()
export class ImageHooks {
  private readonly stored: StoredHook[] = [];
  private readonly dependents: DependentsHook[] = [];

  onOriginalStored(hook: StoredHook): void {
    this.stored.push(hook);
  }

  onDependents(hook: DependentsHook): void {
    this.dependents.push(hook);
  }

  async originalStored(image: Image): Promise<void> {
    for (const hook of this.stored) await hook(image);
  }

  async dependentsOf(manager: EntityManager, imageId: number): Promise<number[]> {
    const ids: number[] = [];
    for (const hook of this.dependents) ids.push(...(await hook(manager, imageId)));
    return ids;
  }
}
