import sharp from 'sharp';
import { encodePng } from './encode';
import { countGreyLevels, readGreyLevels } from './grey-levels';
import { histogramChartSvg } from './histogram-chart';
import { defineOperation } from './operation';

export const operation = defineOperation('histogram', async (input, _params, context) => {
  const grey = await readGreyLevels(input);
  const histogram = countGreyLevels(grey.data);
  const svg = histogramChartSvg(histogram, `Grey-level histogram of ${grey.width} × ${grey.height} pixels`);
  const chart = await encodePng(sharp(Buffer.from(svg)).removeAlpha(), context);
  return { ...chart, histogram };
});
