import { InvalidInputError } from '../pipelines/invalid-input.error';
import { encodeCursor, START } from './sync-cursor';
import { parseSyncQuery } from './sync-query';

function refusal(input: Record<string, unknown>) {
  try {
    parseSyncQuery(input);
  } catch (error) {
    if (error instanceof InvalidInputError) return error.details;
    throw error;
  }
  throw new Error('accepted');
}

describe('parseSyncQuery', () => {
  it('reads a cursor and a limit, and defaults to a full sync of 20', () => {
    expect(parseSyncQuery({})).toEqual({ since: null, limit: 20 });
    const cursor = { position: { xid: 9n, kind: 'job' as const, id: 3 }, floor: 0n };
    expect(parseSyncQuery({ since: encodeCursor(cursor), limit: '1000' })).toEqual({ since: cursor, limit: 1000 });
  });

  it('refuses each thing wrong at once, naming its parameter', () => {
    expect(refusal({ since: 'nonsense', limit: '0', n: '5' })).toEqual([
      { field: 'since', message: expect.stringContaining('since must be a cursor') },
      { field: 'limit', message: 'limit must be an integer from 1 to 1000, not "0"' },
      { field: 'n', message: 'n is not a known parameter; known: since, limit' },
    ]);
    expect(refusal({ limit: '1001' })).toEqual([{ field: 'limit', message: expect.stringContaining('from 1 to 1000') }]);
    expect(refusal({ since: [encodeCursor({ position: START, floor: 0n })] })).toEqual([
      { field: 'since', message: 'since must be given once, as a single value' },
    ]);
  });
});
