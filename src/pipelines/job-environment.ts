import { ErrorDetail, invalidFields } from './invalid-input.error';

/** The keys the seed's environment strings use: `QUERY='…' USER=123 TARGET=456 K=10`. */
export const ENVIRONMENT_KEYS = ['QUERY', 'USER', 'TARGET', 'TARGET_S3_HIST', 'K'] as const;
export type EnvironmentKey = (typeof ENVIRONMENT_KEYS)[number];

// An unquoted value is plain text only: nothing a shell would expand, even though none ever sees it.
const UNQUOTED = /^[A-Za-z0-9_.,:/=&%+@-]+/;
const KEY = /^[A-Z][A-Z0-9_]*/;

/**
 * Parses an environment string with a strict grammar: `KEY=value` pairs separated by spaces,
 * values bare or in single or double quotes (no escapes, no nesting). The string is data: it is
 * never passed to a shell, never evaluated. Every fault is reported with where it is.
 */
export function parseEnvironment(input: string, field = 'environment'): Partial<Record<EnvironmentKey, string>> {
  const values: Partial<Record<EnvironmentKey, string>> = {};
  const fail = (message: string): never => {
    throw invalidFields([{ field, message }] satisfies ErrorDetail[]);
  };
  let rest = input.trim();
  while (rest.length > 0) {
    const at = input.length - rest.length;
    const key = KEY.exec(rest)?.[0];
    if (!key || rest[key.length] !== '=') fail(`Expected KEY=value at character ${at + 1}: ${JSON.stringify(rest.slice(0, 20))}`);
    if (!(ENVIRONMENT_KEYS as readonly string[]).includes(key!)) {
      fail(`${key} is not a known key; known: ${ENVIRONMENT_KEYS.join(', ')}`);
    }
    if (key! in values) fail(`${key} is given more than once`);
    rest = rest.slice(key!.length + 1);
    let value: string;
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      const end = rest.indexOf(quote, 1);
      if (end === -1) fail(`The value of ${key} opens a ${quote === "'" ? 'single' : 'double'} quote that is never closed`);
      value = rest.slice(1, end);
      rest = rest.slice(end + 1);
    } else {
      value = UNQUOTED.exec(rest)?.[0] ?? '';
      if (!value) fail(`The value of ${key} is missing or holds characters that need quotes`);
      rest = rest.slice(value.length);
    }
    if (rest.length > 0 && !/^\s/.test(rest)) fail(`Expected a space after the value of ${key}, not ${JSON.stringify(rest[0])}`);
    values[key as EnvironmentKey] = value!;
    rest = rest.trimStart();
  }
  return values;
}
