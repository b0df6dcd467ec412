import { invalidField } from '../common/api-errors';
import { parsePresetSteps, type PresetSteps } from '../pipelines/preset-steps';

/** Starts the preset segment of a public URL that carries free-form steps: no preset name can (they start with a-z). */
const FREE_FORM_MARK = '~';

/**
 * The longest free-form segment issued: with the rest of the URL it stays under the 2,048
 * characters that every browser, CDN and proxy passes along. Longer steps belong in a preset.
 */
export const MAX_FREE_FORM_SEGMENT = 1800;

export function isFreeForm(segment: string): boolean {
  return segment.startsWith(FREE_FORM_MARK);
}

/** Steps (as parsePresetSteps gives them) as a URL path segment: the mark, then their JSON in base64url. */
export function encodeFreeFormSteps(steps: PresetSteps): string {
  const json = JSON.stringify({ job_type: steps.sequence.filter((step, index) => index > 0 || step !== 'process'), params: steps.params });
  return FREE_FORM_MARK + Buffer.from(json, 'utf8').toString('base64url');
}

/**
 * The steps a free-form segment carries, checked as a preset's: a signed segment was checked when
 * it was issued, but operations and their parameters may have changed since.
 */
export function decodeFreeFormSteps(segment: string): PresetSteps {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(segment.slice(FREE_FORM_MARK.length), 'base64url').toString('utf8'));
  } catch {
    body = null;
  }
  const { job_type, params } = (isObject(body) ? body : {}) as { job_type?: unknown; params?: unknown };
  const readable =
    Array.isArray(job_type) && job_type.every((step) => typeof step === 'string') && (params === undefined || isObject(params));
  if (!readable) throw invalidField('preset', 'This URL’s steps are not readable; ask for a new URL');
  return parsePresetSteps({ job_type: job_type as string[], params: params as Record<string, unknown> | undefined });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
