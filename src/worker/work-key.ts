import { createHash } from 'node:crypto';
import type { Operation, OperationContext } from './operations/operation';

/** JSON with every object's keys sorted, so that equal params give equal text whatever their order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What names one step's exact work: its input file (by sha256), the operation and its version,
 * its params and the settings that shape the encoded output. Two steps with the same key produce
 * the same file, so the second may point at the first's instead of computing it.
 */
export function workKey(inputSha256: string, operation: Pick<Operation, 'name' | 'version'>, params: unknown, context: OperationContext): string {
  return createHash('sha256')
    .update(['darkroom-work-1', inputSha256, operation.name, String(operation.version), canonicalJson(params ?? {}), `png=${context.pngCompression}`].join('\n'))
    .digest('hex');
}
