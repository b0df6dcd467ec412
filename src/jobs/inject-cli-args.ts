import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { parseArgs } from 'node:util';
import { BODY_VALIDATION } from '../common/api-validation.pipe';
import { ErrorDetail, InvalidInputError, invalidField, validationDetails } from '../pipelines/invalid-input.error';
import { InjectJobsDto } from './dto/inject-jobs.dto';
import { parseInjection } from './job-injection';

export const INJECT_USAGE = `Usage: npm run inject -- --job-sequence process,grayscale,histogram [options]
  Creates the job for every matching image that has no completed, queued or running job with
  that sequence and those params (failed and cancelled ones count as missing).
  --job-sequence <steps>  comma-separated, as POST /api/jobs.json's job_sequence
  --params <json>         each step's parameters, e.g. '{"resize": {"width": 800}}'
  --image-type <name>     only images of this image type, e.g. original
  --user-id <id>          only this user's images
  --days <N|today>        only images created in the last N days, or since 00:00 UTC
  --force                 create the job for every matching image
  --dry-run               only count; create nothing
Uses DATABASE_URL (and REDIS_URL, QUEUE_PREFIX as the app does), or the embedded PostgreSQL under
DATA_DIR (the running app's, if it runs). Exit code 2 for bad options.
`;

export type InjectCommand = { action: 'help' } | { action: 'inject'; dto: InjectJobsDto };

const OPTIONS = {
  'job-sequence': { type: 'string' },
  params: { type: 'string' },
  'image-type': { type: 'string' },
  'user-id': { type: 'string' },
  days: { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The option that sets an API field: `job_sequence` and `params.resize` are `--job-sequence`, `--params`. */
export function optionOf(field: string): string {
  return `--${topField(field).replace(/_/g, '-')}`;
}

/**
 * Reads `npm run inject` arguments into the body POST /api/jobs/inject.json takes, checked by the
 * same DTO and the same parser: every mistake is an InvalidInputError naming its fields.
 */
export async function parseInjectArgs(argv: string[]): Promise<InjectCommand> {
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw invalidField('arguments', describeParseError(error as Error & { code?: string }));
  }
  if (values.help) return { action: 'help' };
  const details: ErrorDetail[] = [];
  const plain: Record<string, unknown> = {};
  if (values['job-sequence'] !== undefined) plain.job_sequence = values['job-sequence'].split(',').map((step) => step.trim());
  if (values.params !== undefined) {
    try {
      plain.params = JSON.parse(values.params);
    } catch (error) {
      details.push({ field: 'params', message: `params must be a JSON object: ${(error as Error).message}` });
    }
  }
  if (values['image-type'] !== undefined) plain.image_type = values['image-type'];
  if (values['user-id'] !== undefined)
    plain.user_id = /^[0-9]{1,10}$/.test(values['user-id']) ? Number(values['user-id']) : values['user-id'];
  if (values.days !== undefined) plain.days = values.days;
  if (values.force) plain.force = true;
  if (values['dry-run']) plain.dry_run = true;
  const dto = plainToInstance(InjectJobsDto, plain);
  details.push(...validationDetails(await validate(dto, BODY_VALIDATION)));
  // The fields that are well-formed are read on, so that one run names every mistake.
  const faulty = new Set(details.map((detail) => topField(detail.field)));
  const rest = plainToInstance(InjectJobsDto, Object.fromEntries(Object.entries(plain).filter(([field]) => !faulty.has(field))));
  try {
    parseInjection(rest);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    details.push(...error.details.filter((detail) => !faulty.has(topField(detail.field))));
  }
  if (details.length > 0) throw new InvalidInputError(details);
  return { action: 'inject', dto };
}

const topField = (field: string) => field.split('.')[0];

function describeParseError(error: Error & { code?: string }): string {
  const named = /'([^' ]+)/.exec(error.message)?.[1] ?? 'an argument';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `Unknown option ${named} (see --help)`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `Unexpected argument ${named}: every value follows its option (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take/.test(error.message) ? `${named} takes no value (see --help)` : `${named} needs a value (see --help)`;
    default:
      return error.message.split('\n')[0];
  }
}
