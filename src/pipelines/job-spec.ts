import { type ErrorDetail, invalidField, invalidFields } from './invalid-input.error';
import { AggregateRequest, parseAggregateRequest } from './aggregate-request';
import { normalizeJobSequence, pipelineKind } from './job-sequence';
import { operationCatalog } from './operation-catalog';

/** A job as a client describes it, in the API's field names. */
export interface JobSpecInput {
  job_type?: string[];
  job_sequence?: string[];
  params?: Record<string, unknown>;
  environment?: string;
}

/** One step of a process job: an operation of the catalogue and its checked parameters, ready for `run`. */
export interface ProcessStep {
  name: string;
  params: object;
}

/** A job that can run, whoever reads it: the API on create and update, the worker before it runs it. */
export type JobSpec =
  | {
      kind: 'process';
      sequence: string[];
      steps: ProcessStep[];
      /** As stored: only the parameters given, each checked. */
      params: Record<string, object>;
    }
  | { kind: 'query' | 'search'; sequence: string[]; aggregate: AggregateRequest; params: Record<string, unknown> };

/** The normalised sequence named by `job_type` or `job_sequence`, and which; a client gives at most one of them. */
export function requestedSequence(
  input: Pick<JobSpecInput, 'job_type' | 'job_sequence'>,
): { sequence: string[]; field: 'job_type' | 'job_sequence' } | undefined {
  if (input.job_type !== undefined && input.job_sequence !== undefined) {
    throw invalidField('job_sequence', 'Give job_type or job_sequence, not both');
  }
  if (input.job_sequence !== undefined) {
    return { sequence: normalizeJobSequence(input.job_sequence, 'job_sequence'), field: 'job_sequence' };
  }
  if (input.job_type !== undefined) return { sequence: normalizeJobSequence(input.job_type, 'job_type'), field: 'job_type' };
  return undefined;
}

/**
 * Checks a whole job: its sequence, then a process job's operations and parameters, or an
 * aggregate job's request (its selection read relative to `now`). Everything wrong is an
 * InvalidInputError naming the fields.
 */
export function parseJobSpec(input: JobSpecInput, now = new Date()): JobSpec {
  const requested = requestedSequence(input);
  if (!requested) throw invalidField('job_type', 'job_type (or job_sequence) is required');
  const { sequence, field } = requested;
  const kind = pipelineKind(sequence);
  if (kind === 'process') return { kind, sequence, ...processSteps(sequence, field, input.params ?? {}) };
  const aggregate = parseAggregateRequest(sequence, field, input.environment, input.params, now);
  return { kind, sequence, aggregate, params: input.params ?? {} };
}

/**
 * A stored job row, read again as at its creation. An aggregate's selection came as params or as
 * environment, never both, and a process job never reads environment.
 */
export function jobSpecOf(
  row: { jobType: string[]; params: Record<string, unknown>; environment: string | null },
  now = new Date(),
): JobSpec {
  const hasParams = Object.keys(row.params).length > 0;
  return parseJobSpec(
    { job_type: row.jobType, params: row.params, environment: hasParams ? undefined : (row.environment ?? undefined) },
    now,
  );
}

/**
 * A process job's steps must be operations of the catalogue, and `params` may only hold
 * parameters of its steps, valid for them.
 */
function processSteps(
  sequence: string[],
  field: string,
  rawParams: Record<string, unknown>,
): { steps: ProcessStep[]; params: Record<string, object> } {
  const details: ErrorDetail[] = [];
  const names = sequence.slice(1);
  for (const name of names) {
    if (!operationCatalog.has(name)) {
      details.push({ field, message: `"${name}" is not an operation; known: ${operationCatalog.names().join(', ')}` });
    }
  }
  for (const name of Object.keys(rawParams)) {
    if (!names.includes(name)) details.push({ field: `params.${name}`, message: `params.${name} names no step of this job` });
  }
  // Every step is checked, given parameters or not, so a missing required one is caught here.
  const checked = new Map<string, object>();
  const params: Record<string, object> = {};
  for (const name of new Set(names)) {
    if (!operationCatalog.has(name)) continue;
    const validated = operationCatalog.validateParams(name, rawParams[name]);
    details.push(...validated.errors);
    checked.set(name, validated.params);
    if (rawParams[name] !== undefined) params[name] = validated.params;
  }
  if (details.length > 0) throw invalidFields(details);
  return { steps: names.map((name) => ({ name, params: checked.get(name)! })), params };
}
