import type { GreyLevels } from '../../pipelines/operation-output';
import { encodeGreyLevels, readGreyLevels } from './grey-levels';
import { defineOperation } from './operation';

/**
 * Sobel gradient magnitude as scikit-image's `filters.sobel` computes it (3×3 kernels, edges mirrored
 * with the border pixel repeated), stretched so the weakest edge is 0 and the strongest 255. The
 * stretch cancels the kernels' constant factors, so integer kernels suffice.
 */
export function sobelMagnitude({ data, width, height }: GreyLevels): Uint8Array {
  const magnitude = new Float32Array(data.length);
  let lowest = Infinity;
  let highest = -Infinity;
  for (let y = 0; y < height; y++) {
    const above = (y === 0 ? 0 : y - 1) * width;
    const row = y * width;
    const below = (y === height - 1 ? y : y + 1) * width;
    for (let x = 0; x < width; x++) {
      const left = x === 0 ? 0 : x - 1;
      const right = x === width - 1 ? x : x + 1;
      const topLeft = data[above + left];
      const topRight = data[above + right];
      const bottomLeft = data[below + left];
      const bottomRight = data[below + right];
      const gradientX = topRight + 2 * data[row + right] + bottomRight - topLeft - 2 * data[row + left] - bottomLeft;
      const gradientY = bottomLeft + 2 * data[below + x] + bottomRight - topLeft - 2 * data[above + x] - topRight;
      const value = Math.sqrt(gradientX * gradientX + gradientY * gradientY);
      magnitude[row + x] = value;
      if (value < lowest) lowest = value;
      if (value > highest) highest = value;
    }
  }

  const edges = new Uint8Array(data.length);
  if (highest > lowest) {
    const scale = 255 / (highest - lowest);
    for (let i = 0; i < magnitude.length; i++) edges[i] = Math.round((magnitude[i] - lowest) * scale);
  }
  return edges;
}

export const operation = defineOperation('edges', async (input, _params, context) => {
  const grey = await readGreyLevels(input);
  return encodeGreyLevels({ ...grey, data: sobelMagnitude(grey) }, context);
});
