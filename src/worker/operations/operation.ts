import type { Sharp } from 'sharp';
import type { OperationName, OperationParams } from '../../pipelines/operation-catalog';
import type { OperationOutput } from '../../pipelines/operation-output';

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
  /** `input` is already oriented by its EXIF tag; `params` passed the catalogue's checks; the output must carry no metadata. */
  run(input: Sharp, params: OperationParams[N], context: OperationContext): Promise<OperationOutput>;
}

/**
 * Types `run`'s parameters by the catalogue's entry for `name`. A change to what `run` outputs
 * raises the entry's version there (OperationContract.version).
 */
export function defineOperation<N extends OperationName>(name: N, run: Operation<N>['run']): Operation<N> {
  return { name, run };
}
