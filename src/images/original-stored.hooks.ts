import { Injectable } from '@nestjs/common';
import type { Image } from './image.entity';

type Hook = (image: Image) => Promise<void>;

/**
 * What follows an original's file being stored, awaited before the upload answers: eager
 * derivatives (src/derivatives registers them). Modules above images register here, so that the
 * images folder imports none of them. A hook handles its own failures: the file is stored by then,
 * and the upload has succeeded whatever a hook makes of it.
 */
@Injectable()
export class OriginalStoredHooks {
  private readonly hooks: Hook[] = [];

  register(hook: Hook): void {
    this.hooks.push(hook);
  }

  async run(image: Image): Promise<void> {
    for (const hook of this.hooks) await hook(image);
  }
}
