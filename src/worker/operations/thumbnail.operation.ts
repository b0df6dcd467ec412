import { THUMBNAIL_SIDE } from '../../pipelines/operation-params';
import { encode } from './encode';
import { defineOperation } from './operation';

const JPEG_QUALITY = 85;

export const operation = defineOperation('thumbnail', async (input, _params, context) => {
  // JPEG cannot store transparency.
  const { hasAlpha } = await input.metadata();
  const thumbnail = input.resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true });
  return hasAlpha ? encode(thumbnail, 'png', context) : encode(thumbnail, 'jpeg', context, JPEG_QUALITY);
});
