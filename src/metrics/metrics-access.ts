import { secretsEqual } from '../identity/credentials';

const BEARER = /^Bearer +(\S+)$/i;

/**
 * Whether a scrape may read the metrics: always when no METRICS_TOKEN is set, otherwise only with
 * that token, as `Authorization: Bearer <token>` or `?token=<token>` (for scrapers that cannot
 * send headers). A repeated `token` parameter arrives as an array and is refused.
 */
export function metricsAccessAllowed(expected: string | undefined, authorization: unknown, queryToken: unknown): boolean {
  if (expected === undefined) return true;
  const fromHeader = typeof authorization === 'string' ? BEARER.exec(authorization)?.[1] : undefined;
  const offered = fromHeader ?? (typeof queryToken === 'string' ? queryToken : undefined);
  return offered !== undefined && secretsEqual(offered, expected);
}

export const METRICS_UNAUTHORIZED =
  'The metrics need METRICS_TOKEN: send "Authorization: Bearer <METRICS_TOKEN>" or ?token=<METRICS_TOKEN>';
