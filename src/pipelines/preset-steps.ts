import { negotiateFormat, type NegotiatedFormat } from './format-negotiation';
import { invalidField } from './invalid-input.error';
import { type JobSpec, parseJobSpec, requestedSequence } from './job-spec';
import { pipelineKind } from './job-sequence';

/** The `convert` format a preset may give to have each request's Accept header choose it. */
export const AUTO_FORMAT = 'auto';

/** A preset's steps as stored: the normalised sequence and its params, `convert.format` perhaps "auto". */
export interface PresetSteps {
  sequence: string[];
  params: Record<string, object>;
}

type ProcessSpec = Extract<JobSpec, { kind: 'process' }>;

/** A preset's steps made concrete for one request: a `process` job's spec, and the format "auto" became (null: none was asked). */
export interface ResolvedPresetSteps {
  spec: ProcessSpec;
  autoFormat: NegotiatedFormat | null;
}

function convertParams(params: Record<string, unknown> | undefined): Record<string, unknown> | null {
  const convert = params?.convert;
  return convert && typeof convert === 'object' && !Array.isArray(convert) ? (convert as Record<string, unknown>) : null;
}

function withConvertFormat(params: Record<string, unknown>, format: string): Record<string, unknown> {
  return { ...params, convert: { ...convertParams(params), format } };
}

/**
 * Checks a preset's steps exactly as a `process` job's (parseJobSpec), "auto" standing for a
 * concrete format while they are checked, since every format it can become is valid wherever
 * "auto" is. Query and search pipelines are refused: a preset makes an image from an image.
 */
export function parsePresetSteps(input: { job_type?: string[]; params?: Record<string, unknown> }): PresetSteps {
  const requested = requestedSequence({ job_type: input.job_type });
  if (requested && pipelineKind(requested.sequence) !== 'process') {
    throw invalidField('job_type', `A preset is a process pipeline of operations; "${requested.sequence[0]}" makes no image`);
  }
  const auto = convertParams(input.params)?.format === AUTO_FORMAT;
  const params = auto ? withConvertFormat(input.params!, 'jpeg') : input.params;
  const spec = parseJobSpec({ job_type: input.job_type, params }) as ProcessSpec;
  return { sequence: spec.sequence, params: auto ? (withConvertFormat(spec.params, AUTO_FORMAT) as Record<string, object>) : spec.params };
}

/** The job a preset makes for a request sending `accept`: "auto" becomes negotiateFormat's choice. */
export function resolvePresetSteps(steps: PresetSteps, accept: string | undefined): ResolvedPresetSteps {
  const auto = convertParams(steps.params)?.format === AUTO_FORMAT;
  const autoFormat = auto ? negotiateFormat(accept) : null;
  const params = autoFormat ? withConvertFormat(steps.params, autoFormat) : steps.params;
  // Stored steps passed parsePresetSteps: a process pipeline.
  return { spec: parseJobSpec({ job_type: steps.sequence, params }) as ProcessSpec, autoFormat };
}
