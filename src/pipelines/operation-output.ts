/*
 * What a `process` step hands on: the worker's operations make it, the job runner records it.
 * Types only, so that the job lifecycle (src/jobs) names them without loading the worker.
 */

/** One 8-bit channel, row by row: what the grey-level operations compute on in JS. */
export interface GreyLevels {
  data: Uint8Array;
  width: number;
  height: number;
}

export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'avif';

/** What an image's JSON tells of its pixels, from the worker's decode (docs/placeholders.md): its oriented size and placeholders. */
export interface ImageFacts {
  width: number;
  height: number;
  blurhash: string;
  /** `#rrggbb`. */
  dominantColor: string;
}

export interface OperationOutput extends ImageFacts {
  data: Buffer; // the encoded output image
  format: OutputFormat;
  histogram?: number[]; // only the histogram operation: 256 integer bins
  /** The output's pixels when the operation computed them in JS: the next step starts from them rather than decoding `data`. */
  pixels?: GreyLevels;
}
