import { ErrorDetail, InvalidInputError, invalidField } from '../pipelines/invalid-input.error';
import { pipelineKind } from '../pipelines/job-sequence';
import { JobSpec, parseJobSpec, requestedSequence } from '../pipelines/job-spec';
import { parseSelection, SelectionKey } from '../pipelines/selection';
import type { InjectJobsDto } from './dto/inject-jobs.dto';

/** The index routes' keys that pick images; an injection covers every match, so `n` has no place. */
export const INJECTION_SELECTION_KEYS: readonly SelectionKey[] = ['image_type', 'user_id', 'days'];

/** A checked injection: the process job to make sure of, and which images. */
export interface Injection {
  sequence: string[];
  /** As a job stores them (only those given, each checked): what "the same params" compares. */
  params: Record<string, object>;
  imageType: string | null;
  userId: number | null;
  since: Date | null;
  force: boolean;
  dryRun: boolean;
}

export interface InjectionSummary {
  sequence: string[];
  params: Record<string, object>;
  matched: number;
  done: number;
  pending: number;
  created: number;
  force: boolean;
  dryRun: boolean;
}

/**
 * Reads an injection as POST /api/jobs.json reads a job (parseJobSpec) and as the index routes
 * read a selection (parseSelection), and reports every fault of both at once.
 */
export function parseInjection(dto: InjectJobsDto, now = new Date()): Injection {
  const details: ErrorDetail[] = [];
  const collect = <T>(parse: () => T): T | null => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      details.push(...error.details);
      return null;
    }
  };
  const spec = collect(() => {
    const requested = dto.job_sequence === undefined ? undefined : requestedSequence({ job_sequence: dto.job_sequence });
    if (!requested) throw invalidField('job_sequence', 'job_sequence is required');
    const kind = pipelineKind(requested.sequence);
    // Before the rest of the check, which would otherwise ask an aggregate for its own settings.
    if (kind !== 'process') {
      throw invalidField('job_sequence', `The injector makes process jobs, one per image; a ${kind} job works on no single image`);
    }
    return parseJobSpec({ job_sequence: dto.job_sequence, params: dto.params }, now) as Extract<JobSpec, { kind: 'process' }>;
  });
  const filters: Record<string, string> = {};
  if (dto.image_type !== undefined) filters.image_type = dto.image_type;
  if (dto.user_id !== undefined) filters.user_id = String(dto.user_id);
  if (dto.days !== undefined) filters.days = dto.days;
  const selection = collect(() => parseSelection(filters, INJECTION_SELECTION_KEYS, now));
  if (details.length > 0 || !spec || !selection) throw new InvalidInputError(details);
  return {
    sequence: spec.sequence,
    params: spec.params,
    imageType: selection.imageType,
    userId: selection.userId,
    since: selection.since,
    force: dto.force ?? false,
    dryRun: dto.dry_run ?? false,
  };
}
