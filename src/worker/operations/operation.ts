import type { Sharp } from 'sharp';
import type { GreyLevels } from './grey-levels';

export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'avif';

export interface OperationOutput {
  data: Buffer; // the encoded output image
  format: OutputFormat;
  width: number;
  height: number;
  histogram?: number[]; // only the histogram operation: 256 integer bins
  /** The output's pixels when the operation computed them in JS: the next step starts from them rather than decoding `data`. */
  pixels?: GreyLevels;
}

export interface OperationContext {
  pngCompression: number; // zlib level 0-9 for PNG outputs (configurable; default 1 because PNG encoding dominates cost)
}

/**
 * One step of a `process` pipeline. Each lives in its own `<name>.operation.ts` exporting `operation`,
 * which is how the registry finds it.
 */
export interface Operation<P extends object = object> {
  name: string; // unique, /^[a-z][a-z0-9_]*$/
  description: string; // one line, shown to users
  params?: new () => P; // a class-validator DTO class for the step's parameters; omit when it takes none
  /** `input` is already oriented by its EXIF tag; the output must carry no metadata. */
  run(input: Sharp, params: P, context: OperationContext): Promise<OperationOutput>;
}
