import sharp from 'sharp';
import { encodePng } from './encode';
import { countGreyLevels, readGreyLevels } from './grey-levels';
import { histogramChartSvg } from './histogram-chart';
import type { Operation } from './operation';

export const operation: Operation = {
  name: 'histogram',
  description: 'Counts the 256 grey levels of the grayscale image and draws them as a PNG bar chart.',
  async run(input, _params, context) {
    const grey = await readGreyLevels(input);
    const histogram = countGreyLevels(grey.data);
    const svg = histogramChartSvg(histogram, `Grey-level histogram of ${grey.width} × ${grey.height} pixels`);
    const chart = await encodePng(sharp(Buffer.from(svg)).removeAlpha(), context);
    return { ...chart, histogram };
  },
};
