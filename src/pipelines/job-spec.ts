import { type ErrorDetail, invalidField, invalidFields, InvalidInputError } from './invalid-input.error';
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

/**
 * The params key of a process job made of branches: chains of steps that each start from the job's
 * source image, where an ordinary job is one chain. Eager derivatives make several presets in one
 * job this way. It names no operation, so it cannot clash with a step's own params.
 */
export const BRANCHES = 'branches';

/** One branch as `params.branches` stores it: its operations and their params, by operation name. */
export interface BranchInput {
  steps: string[];
  params?: Record<string, unknown>;
}

/** A job that can run, whoever reads it: the API on create and update, the worker before it runs it. */
export type JobSpec =
  | {
      kind: 'process';
      sequence: string[];
      steps: ProcessStep[];
      /**
       * The index of each branch's first step, which starts from the job's source image; every other
       * step starts from the previous step's output. `[0]` for an ordinary job, one chain.
       */
      branchStarts: number[];
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
  if (kind === 'process') {
    const params = input.params ?? {};
    if (params[BRANCHES] !== undefined) return { kind, sequence, ...branchedSteps(sequence, field, params) };
    return { kind, sequence, branchStarts: [0], ...processSteps(sequence, field, params) };
  }
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

/** Whether step `index` of a process job starts from the job's source image rather than the previous step's output. */
export function startsFromSource(spec: { branchStarts: number[] }, index: number): boolean {
  return spec.branchStarts.includes(index);
}

/**
 * A process job of branches: `params.branches` lists at least two, each `{"steps", "params"?}`
 * checked as an ordinary job's operations and params are, and the job's own steps (job_type) are
 * theirs one after the other, so that a job still has one output per step, in step order. Params
 * by operation name sit in each branch, where two branches' `convert` do not clash.
 */
function branchedSteps(
  sequence: string[],
  field: string,
  rawParams: Record<string, unknown>,
): { steps: ProcessStep[]; branchStarts: number[]; params: Record<string, object> } {
  const branches = rawParams[BRANCHES];
  const others = Object.keys(rawParams).filter((name) => name !== BRANCHES);
  if (others.length > 0) {
    throw invalidFields(
      others.map((name) => ({ field: `params.${name}`, message: `With params.${BRANCHES}, each step's params go in its branch` })),
    );
  }
  const where = `params.${BRANCHES}`;
  if (!Array.isArray(branches) || branches.length < 2) {
    throw invalidField(where, `${where} must be an array of at least 2 branches, each {"steps": [...], "params": {...}}`);
  }
  const details: ErrorDetail[] = [];
  const steps: ProcessStep[] = [];
  const branchStarts: number[] = [];
  const stored: { steps: string[]; params: Record<string, object> }[] = [];
  for (const [index, branch] of (branches as unknown[]).entries()) {
    const at = `${where}[${index}]`;
    const input = branch as Partial<BranchInput> | null;
    const named = input?.steps;
    if (!Array.isArray(named) || named.length === 0 || !named.every((name) => typeof name === 'string')) {
      details.push({ field: `${at}.steps`, message: `${at}.steps must name at least one operation` });
      continue;
    }
    const params = input?.params ?? {};
    if (typeof params !== 'object' || Array.isArray(params)) {
      details.push({ field: `${at}.params`, message: `${at}.params must be an object` });
      continue;
    }
    try {
      const chain = processSteps(['process', ...named], `${at}.steps`, params);
      branchStarts.push(steps.length);
      steps.push(...chain.steps);
      stored.push({ steps: named, params: chain.params });
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      // A step's params are named as an ordinary job names them (params.<operation>), here within the branch.
      const within = (field: string) => (field.startsWith(at) ? field : field.replace(/^params\./, `${at}.params.`));
      details.push(...error.details.map((detail) => ({ ...detail, field: within(detail.field) })));
    }
  }
  if (details.length > 0) throw invalidFields(details);
  const operations = sequence.slice(1);
  if (steps.length !== operations.length || steps.some((step, index) => step.name !== operations[index])) {
    throw invalidField(
      field,
      `${field} must name the steps of ${where}, one branch after the other (${steps.map((step) => step.name).join(', ')})`,
    );
  }
  return { steps, branchStarts, params: { [BRANCHES]: stored } };
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
