import type { Sharp } from 'sharp';
import type { OperationName, OperationParams } from '../../pipelines/operation-catalog';
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
 * The pixel work of one `process` step. Each lives in its own `<name>.operation.ts` exporting
 * `operation`, which is how the registry finds it; its description and parameters are the
 * catalogue's (src/pipelines/operation-catalog.ts), which the API reads without loading sharp.
 */
export interface Operation<N extends OperationName = OperationName> {
  readonly name: N;
  /**
   * Raised whenever the operation's output for the same input and params changes (a fix, a new
   * encoder setting): outputs made by an older version are then never reused for new steps.
   */
  readonly version: number;
  /** `input` is already oriented by its EXIF tag; `params` passed the catalogue's checks; the output must carry no metadata. */
  run(input: Sharp, params: OperationParams[N], context: OperationContext): Promise<OperationOutput>;
}

/** Types `run`'s parameters by the catalogue's entry for `name`. */
export function defineOperation<N extends OperationName>(name: N, run: Operation<N>['run'], { version = 1 } = {}): Operation<N> {
  return { name, version, run };
}
