import { type ErrorDetail, invalidFields } from '../common/api-errors';
import { DEFAULT_LIMIT } from '../pipelines/selection';
import { decodeCursor, type SyncCursor } from './sync-cursor';

/** The most changes one page answers: their records are read and answered at once. */
export const MAX_SYNC_LIMIT = 1000;

export interface SyncQuery {
  /** Where the client stands; null for a full sync (every current record, no tombstones). */
  since: SyncCursor | null;
  limit: number;
}

export const SYNC_QUERY_DESCRIPTIONS = {
  since: 'The `cursor` of your last answer: only what changed after it. Without it, every current record (no tombstones).',
  limit: `How many changes per page (default ${DEFAULT_LIMIT}, at most ${MAX_SYNC_LIMIT}).`,
} as const;

const KEYS = Object.keys(SYNC_QUERY_DESCRIPTIONS);

/** Parses GET /api/sync's query, refusing unknown, repeated and malformed parameters with one detail each. */
export function parseSyncQuery(input: Record<string, unknown>): SyncQuery {
  const details: ErrorDetail[] = [];
  const query: SyncQuery = { since: null, limit: DEFAULT_LIMIT };
  for (const [key, raw] of Object.entries(input)) {
    if (!KEYS.includes(key)) {
      details.push({ field: key, message: `${key} is not a known parameter; known: ${KEYS.join(', ')}` });
    } else if (typeof raw !== 'string') {
      details.push({ field: key, message: `${key} must be given once, as a single value` });
    } else if (key === 'limit') {
      if (/^[1-9][0-9]{0,3}$/.test(raw) && Number(raw) <= MAX_SYNC_LIMIT) query.limit = Number(raw);
      else details.push({ field: 'limit', message: `limit must be an integer from 1 to ${MAX_SYNC_LIMIT}, not ${JSON.stringify(raw)}` });
    } else {
      query.since = decodeCursor(raw);
      if (!query.since) {
        details.push({ field: 'since', message: 'since must be a cursor this API answered (the `cursor` of GET /api/sync), unchanged' });
      }
    }
  }
  if (details.length > 0) throw invalidFields(details);
  return query;
}
