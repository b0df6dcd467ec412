import { negotiateFormat, type NegotiatedFormat } from './format-negotiation';
import { invalidField } from './invalid-input.error';
import { BRANCHES, type JobSpec, parseJobSpec, requestedSequence } from './job-spec';
import { MAX_STEPS, pipelineKind } from './job-sequence';

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
 * "auto" is. Query and search pipelines are refused, and so are branches: a preset makes one
 * image from an image.
 */
export function parsePresetSteps(input: { job_type?: string[]; params?: Record<string, unknown> }): PresetSteps {
  const requested = requestedSequence({ job_type: input.job_type });
  if (requested && pipelineKind(requested.sequence) !== 'process') {
    throw invalidField('job_type', `A preset is a process pipeline of operations; "${requested.sequence[0]}" makes no image`);
  }
  if (input.params?.[BRANCHES] !== undefined) {
    throw invalidField(`params.${BRANCHES}`, 'A preset is one chain of steps making one image; give each branch a preset of its own');
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

/** A job making several presets' steps at once (branchedJobs), as a process job's fields. */
export interface BranchedJob {
  jobType: string[];
  params: Record<string, object>;
  /** The positions, in the specs given, of the presets this job makes. */
  made: number[];
  /** For each of those, the index of its last step in this job: the step whose output is its file. */
  lastSteps: number[];
}

/**
 * The fewest jobs, in order, that make every one of `specs` (each one preset's steps), each
 * preset a branch starting from the source image (params.branches, job-spec.ts): one job unless
 * their steps together pass MAX_STEPS. A job of one preset is that preset's ordinary job, as its
 * first request would have created it.
 */
export function branchedJobs(specs: ProcessSpec[]): BranchedJob[] {
  const groups: number[][] = [];
  let steps = MAX_STEPS;
  for (const [position, spec] of specs.entries()) {
    if (steps + spec.steps.length > MAX_STEPS) {
      groups.push([]);
      steps = 0;
    }
    groups.at(-1)!.push(position);
    steps += spec.steps.length;
  }
  return groups.map((made) => {
    const lastSteps: number[] = [];
    let count = 0;
    for (const position of made) {
      count += specs[position].steps.length;
      lastSteps.push(count - 1);
    }
    if (made.length === 1) return { jobType: specs[made[0]].sequence, params: specs[made[0]].params, made, lastSteps };
    return {
      jobType: ['process', ...made.flatMap((position) => specs[position].sequence.slice(1))],
      params: { [BRANCHES]: made.map((position) => ({ steps: specs[position].sequence.slice(1), params: specs[position].params })) },
      made,
      lastSteps,
    };
  });
}
