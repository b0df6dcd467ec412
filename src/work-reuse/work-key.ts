import { createHash } from 'node:crypto';
import { operationCatalog } from '../pipelines/operation-catalog';
import type { ProcessStep } from '../pipelines/job-spec';

/** JSON with every object's keys sorted, so that equal params give equal text whatever their order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The settings besides a step's params that shape its encoded output. */
export interface EncoderSettings {
  pngCompression: number;
}

/**
 * What names one step's exact work: its input file (by sha256), the operation and its version
 * (the catalogue's), its params and the settings that shape the encoded output. Two steps with the
 * same key produce the same file, so the second may point at the first's instead of computing it.
 */
export function workKey(
  inputSha256: string,
  operation: { name: string; version: number },
  params: unknown,
  context: EncoderSettings,
): string {
  const { before, after } = workKeyText(operation, params, context);
  return createHash('sha256')
    .update(before + inputSha256 + after)
    .digest('hex');
}

/** The text a work key hashes, either side of its input's sha256. */
export interface WorkKeyText {
  before: string;
  after: string;
}

/**
 * The text a work key hashes, either side of its input's sha256, so that PostgreSQL can compute
 * the key of a file it reads (`sha256(before || input sha256 || after)`, as JobRepository.claim does).
 */
export function workKeyText(operation: { name: string; version: number }, params: unknown, context: EncoderSettings): WorkKeyText {
  return {
    before: 'darkroom-work-1\n',
    after: ['', operation.name, String(operation.version), canonicalJson(params ?? {}), `png=${context.pngCompression}`].join('\n'),
  };
}

/** The work key of a `process` step, with its operation's version from the catalogue. */
export function stepWorkKey(inputSha256: string, step: ProcessStep, settings: EncoderSettings): string {
  return workKey(inputSha256, { name: step.name, version: operationCatalog.versionOf(step.name) }, step.params, settings);
}

/** The text of a `process` step's work key (workKeyText). */
export function stepWorkKeyText(step: ProcessStep, settings: EncoderSettings): WorkKeyText {
  return workKeyText({ name: step.name, version: operationCatalog.versionOf(step.name) }, step.params, settings);
}

/**
 * What names a derivative (src/derivatives): the exact work of its steps, each with its
 * operation's version, its params and the encoder settings, as a step's work key names it, but
 * without an input file, plus the format "auto" became for the request (null when the steps asked
 * for none). Steps changed in any way, or an operation's new version, give a new key, so a
 * derivative made by earlier steps is never served for new ones.
 */
export function stepsKey(steps: ProcessStep[], autoFormat: string | null, settings: EncoderSettings): string {
  const text = steps.map((step) => stepWorkKeyText(step, settings).after).join('\n--\n');
  return createHash('sha256')
    .update(`darkroom-derivative-1\n${text}\nformat=${autoFormat ?? ''}`)
    .digest('hex');
}
