import { ErrorDetail, invalidFields } from './invalid-input.error';
import { JOB_LANES, JOB_STATES, JobLane, JobState } from './job-states';

/**
 * The selection language shared by the index routes (`GET /api/images.json?n=5&days=today`) and
 * the aggregate jobs: which records, newest first, or in id order after a given id for clients
 * that page. Each caller names the keys it accepts.
 */
export const SELECTION_KEYS = ['n', 'count', 'days', 'image_type', 'user_id', 'status', 'lane', 'after_id', 'include'] as const;
export type SelectionKey = (typeof SELECTION_KEYS)[number];

/** What an index may embed in each row on request (`include=histogram`); rows stay lean otherwise. */
export const INCLUDES = ['histogram'] as const;
export type Include = (typeof INCLUDES)[number];

export interface Selection {
  /** How many of the newest records; `null` for all of them. */
  limit: number | null;
  /** Only records created at or after this instant. */
  since: Date | null;
  imageType: string | null;
  userId: number | null;
  /** Only jobs in this state. */
  status: JobState | null;
  /** Only jobs of this lane. */
  lane: JobLane | null;
  /** Keyset paging: only records with a greater id, in id order rather than newest first. */
  afterId: number | null;
  include: Include[];
}

export const DEFAULT_LIMIT = 20;
const MAX_DAYS = 36_500;
const MAX_ID = 2_147_483_647;
const POSITIVE_INTEGER = /^[1-9][0-9]{0,9}$/;

export const SELECTION_DESCRIPTIONS: Record<SelectionKey, string> = {
  n: `How many of the newest records to return (default ${DEFAULT_LIMIT}), or \`all\`.`,
  count: 'Same as `n`.',
  days: 'Only records created in the last N days, or `today` for those created since 00:00 UTC.',
  image_type: 'Only images of this image type (by name).',
  user_id: "Only this user's records (admins; a user may name only themself).",
  status: `Only jobs in this state: ${JOB_STATES.join(', ')}.`,
  lane: `Only jobs of this lane: ${JOB_LANES.join(', ')}.`,
  after_id:
    'Page through in id order: only records with an id greater than this one (0 for the first page). ' +
    'A full page answers a `Link: <…>; rel="next"` header to the next.',
  include: `Embed more in each row: ${INCLUDES.join(', ')} (comma-separated).`,
};

/**
 * Parses selection parameters given as strings. Unknown keys, repeated keys and malformed values
 * are refused with one detail each, so a client learns everything that is wrong at once.
 */
export function parseSelection(
  input: Record<string, unknown>,
  allowed: readonly SelectionKey[],
  now: Date = new Date(),
  fieldPrefix = '',
): Selection {
  const details: ErrorDetail[] = [];
  const values = new Map<SelectionKey, string>();
  for (const [key, raw] of Object.entries(input)) {
    if (!(allowed as readonly string[]).includes(key)) {
      details.push({ field: key, message: `${key} is not a known parameter; known: ${allowed.join(', ')}` });
    } else if (typeof raw !== 'string') {
      details.push({ field: key, message: `${key} must be given once, as a single value` });
    } else {
      values.set(key as SelectionKey, raw);
    }
  }

  const selection: Selection = {
    limit: DEFAULT_LIMIT,
    since: null,
    imageType: null,
    userId: null,
    status: null,
    lane: null,
    afterId: null,
    include: [],
  };
  const n = values.get('n');
  const count = values.get('count');
  if (n !== undefined && count !== undefined && n !== count) {
    details.push({ field: 'count', message: 'n and count are the same parameter; give one of them' });
  }
  const limit = n ?? count;
  if (limit !== undefined) {
    const field = n !== undefined ? 'n' : 'count';
    if (limit === 'all') selection.limit = null;
    else if (POSITIVE_INTEGER.test(limit) && Number(limit) <= MAX_ID) selection.limit = Number(limit);
    else details.push({ field, message: `${field} must be a positive integer or "all", not ${JSON.stringify(limit)}` });
  }

  const days = values.get('days');
  if (days !== undefined) {
    if (days === 'today') {
      selection.since = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    } else if (POSITIVE_INTEGER.test(days) && Number(days) <= MAX_DAYS) {
      selection.since = new Date(now.getTime() - Number(days) * 86_400_000);
    } else {
      details.push({
        field: 'days',
        message: `days must be a whole number of days from 1 to ${MAX_DAYS} or "today", not ${JSON.stringify(days)}`,
      });
    }
  }

  const imageType = values.get('image_type');
  if (imageType !== undefined) {
    if (imageType.length >= 1 && imageType.length <= 64) selection.imageType = imageType;
    else details.push({ field: 'image_type', message: 'image_type must be an image type name of 1 to 64 characters' });
  }

  const userId = values.get('user_id');
  if (userId !== undefined) {
    if (POSITIVE_INTEGER.test(userId) && Number(userId) <= MAX_ID) selection.userId = Number(userId);
    else details.push({ field: 'user_id', message: `user_id must be a positive integer, not ${JSON.stringify(userId)}` });
  }

  const status = values.get('status');
  if (status !== undefined) {
    if ((JOB_STATES as readonly string[]).includes(status)) selection.status = status as JobState;
    else details.push({ field: 'status', message: `status must be one of ${JOB_STATES.join(', ')}, not ${JSON.stringify(status)}` });
  }

  const lane = values.get('lane');
  if (lane !== undefined) {
    if ((JOB_LANES as readonly string[]).includes(lane)) selection.lane = lane as JobLane;
    else details.push({ field: 'lane', message: `lane must be one of ${JOB_LANES.join(', ')}, not ${JSON.stringify(lane)}` });
  }

  const afterId = values.get('after_id');
  if (afterId !== undefined) {
    if (/^(0|[1-9][0-9]{0,9})$/.test(afterId) && Number(afterId) <= MAX_ID) selection.afterId = Number(afterId);
    else details.push({ field: 'after_id', message: `after_id must be an id from 0 to ${MAX_ID}, not ${JSON.stringify(afterId)}` });
  }

  const include = values.get('include');
  if (include !== undefined) {
    const names = include.split(',');
    const unknown = names.filter((name) => !(INCLUDES as readonly string[]).includes(name));
    if (unknown.length === 0) selection.include = [...new Set(names as Include[])];
    else
      details.push({
        field: 'include',
        message: `include must name only ${INCLUDES.join(', ')}, not ${JSON.stringify(unknown.join(','))}`,
      });
  }

  if (details.length > 0) {
    throw invalidFields(details.map((detail) => ({ ...detail, field: `${fieldPrefix}${detail.field}` })));
  }
  return selection;
}
