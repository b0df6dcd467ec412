import { ErrorDetail, invalidField, invalidFields } from './invalid-input.error';
import { parseSelection, Selection, SelectionKey } from './selection';
import { isValidStorageKey } from './storage-key';
import { EnvironmentKey, parseEnvironment } from './job-environment';

/** What a `query` or `search` job asks, whichever form it came in. */
export interface AggregateRequest {
  reducer: Reducer;
  /** Which histograms: every user's, as the seed's "median histogram of the day for all users". */
  selection: Selection;
  /** The requesting user, left out of a search's neighbours; null: the job's owner. */
  userId: number | null;
  target: { imageId: number } | { s3Key: string } | null;
  k: number;
}

export const REDUCERS = ['median', 'mean', 'nearest_neighbor'] as const;
export type Reducer = (typeof REDUCERS)[number];

export const DEFAULT_K = 10;
const MAX_K = 1000;
/** Aggregates read histograms, which have no job status: `status` is not theirs to filter on. */
const HISTOGRAM_SELECTION_KEYS: readonly SelectionKey[] = ['n', 'count', 'days', 'image_type', 'user_id'];
const PARAM_KEYS = [...HISTOGRAM_SELECTION_KEYS, 'user', 'target', 'target_s3_hist', 'k'];
const POSITIVE_INTEGER = /^[1-9][0-9]{0,9}$/;

/**
 * Reads an aggregate job: `["query", "histogram", "median" | "mean"]`,
 * `["search", "histogram", "nearest_neighbor"]` (or, as the seed also writes it, `query`), with
 * its selection given as the seed's `environment` string or as a JSON `params` object with the
 * same keys in lower case. Both forms go through the same selection parser.
 */
export function parseAggregateRequest(
  sequence: string[],
  field: string,
  environment: string | undefined,
  params: Record<string, unknown> | undefined,
  now: Date = new Date(),
): AggregateRequest {
  const [kind, source, reducer, ...extra] = sequence;
  if (source !== 'histogram' || !(REDUCERS as readonly string[]).includes(reducer) || extra.length > 0) {
    throw invalidField(field, `A ${kind} job is ["${kind}", "histogram", one of ${REDUCERS.join(', ')}]`);
  }
  if (kind === 'search' && reducer !== 'nearest_neighbor') {
    throw invalidField(field, 'A search job is ["search", "histogram", "nearest_neighbor"]');
  }
  const givenParams = params !== undefined && Object.keys(params).length > 0;
  if (environment !== undefined && givenParams) {
    throw invalidField('params', 'Give the selection as environment or as params, not both');
  }
  const values = givenParams ? fromParams(params!) : fromEnvironment(environment ?? '');
  const details: ErrorDetail[] = [];
  const integer = (name: string, max: number): number | null => {
    const raw = values.scalars[name];
    if (raw === undefined) return null;
    if (POSITIVE_INTEGER.test(raw) && Number(raw) <= max) return Number(raw);
    details.push({ field: values.field(name), message: `${values.field(name)} must be a whole number from 1 to ${max}` });
    return null;
  };
  const userId = integer('user', 2_147_483_647);
  const k = integer('k', MAX_K) ?? DEFAULT_K;
  const targetImage = integer('target', 2_147_483_647);
  const targetKey = values.scalars.target_s3_hist;
  if (targetKey !== undefined && !isValidStorageKey(targetKey)) {
    details.push({ field: values.field('target_s3_hist'), message: `${values.field('target_s3_hist')} is not a storage key` });
  }
  if (reducer === 'nearest_neighbor') {
    if (targetImage === null && targetKey === undefined && !details.length) {
      details.push({
        field: values.field('target'),
        message: `A nearest_neighbor job needs ${values.field('target')} (a histogram image's id) or ${values.field('target_s3_hist')}`,
      });
    }
    if (targetImage !== null && targetKey !== undefined) {
      details.push({
        field: values.field('target_s3_hist'),
        message: `Give ${values.field('target')} or ${values.field('target_s3_hist')}, not both`,
      });
    }
  } else {
    for (const name of ['target', 'target_s3_hist', 'k', 'user']) {
      if (values.scalars[name] !== undefined)
        details.push({ field: values.field(name), message: `${values.field(name)} applies only to nearest_neighbor` });
    }
  }
  const selection = parseSelection(values.selection, HISTOGRAM_SELECTION_KEYS, now, values.selectionPrefix);
  if (details.length > 0) throw invalidFields(details);
  return {
    reducer: reducer as Reducer,
    selection: { ...selection, limit: values.selection.n === undefined && values.selection.count === undefined ? null : selection.limit },
    userId,
    target: targetImage !== null ? { imageId: targetImage } : targetKey !== undefined ? { s3Key: targetKey } : null,
    k,
  };
}

interface RequestValues {
  selection: Record<string, unknown>;
  selectionPrefix: string;
  scalars: Record<string, string | undefined>;
  /** How the client spelled a key, for messages: TARGET in an environment, params.target in JSON. */
  field(name: string): string;
}

const ENVIRONMENT_NAMES: Record<string, EnvironmentKey> = { user: 'USER', target: 'TARGET', target_s3_hist: 'TARGET_S3_HIST', k: 'K' };

function fromEnvironment(environment: string): RequestValues {
  const parsed = parseEnvironment(environment);
  return {
    selection: parseQueryString(parsed.QUERY ?? ''),
    selectionPrefix: 'environment.QUERY.',
    scalars: { user: parsed.USER, target: parsed.TARGET, target_s3_hist: parsed.TARGET_S3_HIST, k: parsed.K },
    field: (name) => ENVIRONMENT_NAMES[name] ?? name,
  };
}

function fromParams(params: Record<string, unknown>): RequestValues {
  const unknown = Object.keys(params).filter((key) => !PARAM_KEYS.includes(key));
  if (unknown.length > 0) {
    throw invalidFields(
      unknown.map((key) => ({ field: `params.${key}`, message: `params.${key} is not a known key; known: ${PARAM_KEYS.join(', ')}` })),
    );
  }
  const text = (value: unknown) => (typeof value === 'number' || typeof value === 'string' ? String(value) : value);
  const selection = Object.fromEntries(
    Object.entries(params)
      .filter(([key]) => (HISTOGRAM_SELECTION_KEYS as readonly string[]).includes(key))
      .map(([key, value]) => [key, text(value)]),
  );
  const scalars: Record<string, string | undefined> = {};
  for (const name of ['user', 'target', 'target_s3_hist', 'k']) {
    const value = text(params[name]);
    if (value !== undefined && typeof value !== 'string') {
      throw invalidField(`params.${name}`, `params.${name} must be a number or a string`);
    }
    scalars[name] = value as string | undefined;
  }
  return { selection, selectionPrefix: 'params.', scalars, field: (name) => `params.${name}` };
}

/** `n=all&days=today`, strictly: a repeated key is kept as a list for the selection parser to refuse. */
function parseQueryString(query: string): Record<string, unknown> {
  const entries: Record<string, string | string[]> = {};
  if (query === '') return entries;
  for (const pair of query.split('&')) {
    const equals = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(equals === -1 ? pair : pair.slice(0, equals));
      value = decodeURIComponent(equals === -1 ? '' : pair.slice(equals + 1));
    } catch {
      throw invalidField('environment.QUERY', `QUERY holds a malformed %-escape: ${JSON.stringify(pair)}`);
    }
    const previous = entries[key];
    entries[key] = previous === undefined ? value : ([] as string[]).concat(previous, value);
  }
  return entries;
}
