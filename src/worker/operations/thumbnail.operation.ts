import { encode } from './encode';
import type { Operation } from './operation';

const THUMBNAIL_SIDE = 256;
const JPEG_QUALITY = 85;

export const operation: Operation = {
  name: 'thumbnail',
  description: `Shrinks to fit within ${THUMBNAIL_SIDE}×${THUMBNAIL_SIDE}; JPEG, or PNG when the image has transparency.`,
  async run(input, _params, context) {
    // JPEG cannot store transparency.
    const { hasAlpha } = await input.metadata();
    const thumbnail = input.resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true });
    return hasAlpha ? encode(thumbnail, 'png', context) : encode(thumbnail, 'jpeg', context, JPEG_QUALITY);
  },
};
