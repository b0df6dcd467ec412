import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { countGreyLevels, encodeGreyLevels, readGreyLevels } from './grey-levels';
import type { Operation } from './operation';
import { otsuThreshold } from './otsu';

export class ThresholdParams {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(255)
  level?: number;
}

export const operation: Operation<ThresholdParams> = {
  name: 'threshold',
  description: "Grey levels above level (0 to 255; default Otsu's threshold) become white, the rest black; PNG.",
  params: ThresholdParams,
  async run(input, { level }, context) {
    const grey = await readGreyLevels(input);
    const cut = level ?? otsuThreshold(countGreyLevels(grey.data));
    const { data } = grey;
    const binary = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) binary[i] = data[i] > cut ? 255 : 0;
    return encodeGreyLevels({ ...grey, data: binary }, context);
  },
};
