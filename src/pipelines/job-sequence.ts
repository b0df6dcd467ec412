import { invalidField } from './invalid-input.error';

/** The seed's three kinds of pipeline: the first element of every job sequence. */
export const PIPELINE_KINDS = ['process', 'query', 'search'] as const;
export type PipelineKind = (typeof PIPELINE_KINDS)[number];

export const STEP_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
export const MAX_STEPS = 32;

/**
 * Turns what a client sent (`"grayscale"`, `["grayscale", "histogram"]` or the seed's
 * `["process", "grayscale", "histogram"]`) into the stored sequence, which always starts with its
 * pipeline kind: a sequence naming no kind is a `process` pipeline.
 */
export function normalizeJobSequence(steps: string[], field: string): string[] {
  const sequence = (PIPELINE_KINDS as readonly string[]).includes(steps[0]) ? steps : ['process', ...steps];
  if (sequence.length < 2) {
    throw invalidField(field, `${field} must name at least one operation after "${sequence[0]}"`);
  }
  if (sequence.length > MAX_STEPS + 1) {
    throw invalidField(field, `${field} may name at most ${MAX_STEPS} operations`);
  }
  return sequence;
}

export function pipelineKind(sequence: string[]): PipelineKind {
  return sequence[0] as PipelineKind;
}
