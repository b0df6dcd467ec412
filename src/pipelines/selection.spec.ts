import { InvalidInputError } from './invalid-input.error';
import { JOB_LANES, JOB_STATES } from './job-states';
import { DEFAULT_LIMIT, parseSelection, SELECTION_KEYS } from './selection';

const NOW = new Date('2026-11-23T15:30:00Z');
const detailsOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as InvalidInputError).details;
  }
  throw new Error('expected the selection to be refused');
};

describe('parseSelection', () => {
  it('defaults to the newest 20 of everything', () => {
    expect(parseSelection({}, SELECTION_KEYS, NOW)).toEqual({
      limit: DEFAULT_LIMIT,
      since: null,
      imageType: null,
      userId: null,
      status: null,
      lane: null,
      afterId: null,
      include: [],
    });
  });

  it('reads n, count and all', () => {
    expect(parseSelection({ n: '5' }, SELECTION_KEYS, NOW).limit).toBe(5);
    expect(parseSelection({ count: '7' }, SELECTION_KEYS, NOW).limit).toBe(7);
    expect(parseSelection({ n: 'all' }, SELECTION_KEYS, NOW).limit).toBeNull();
    expect(parseSelection({ n: '3', count: '3' }, SELECTION_KEYS, NOW).limit).toBe(3);
  });

  it('reads days=N as N×24 hours back and days=today as 00:00 UTC', () => {
    expect(parseSelection({ days: '2' }, SELECTION_KEYS, NOW).since).toEqual(new Date('2026-11-21T15:30:00Z'));
    expect(parseSelection({ days: 'today' }, SELECTION_KEYS, NOW).since).toEqual(new Date('2026-11-23T00:00:00Z'));
  });

  it('reads image_type and user_id', () => {
    expect(parseSelection({ image_type: 'histogram', user_id: '42' }, SELECTION_KEYS, NOW)).toMatchObject({
      imageType: 'histogram',
      userId: 42,
    });
  });

  it('refuses every bad parameter at once, naming each', () => {
    const details = detailsOf(() =>
      parseSelection({ n: '0', days: '1.5', user_id: '01', image_type: '', colour: 'red' }, SELECTION_KEYS, NOW),
    );
    expect(details).toEqual([
      {
        field: 'colour',
        message: 'colour is not a known parameter; known: n, count, days, image_type, user_id, status, lane, after_id, include',
      },
      { field: 'n', message: 'n must be a positive integer or "all", not "0"' },
      { field: 'days', message: 'days must be a whole number of days from 1 to 36500 or "today", not "1.5"' },
      { field: 'image_type', message: 'image_type must be an image type name of 1 to 64 characters' },
      { field: 'user_id', message: 'user_id must be a positive integer, not "01"' },
    ]);
  });

  it('refuses a key the caller does not allow, a repeated key, and n that disagrees with count', () => {
    expect(detailsOf(() => parseSelection({ image_type: 'x' }, ['n', 'days'], NOW))).toEqual([
      { field: 'image_type', message: 'image_type is not a known parameter; known: n, days' },
    ]);
    expect(detailsOf(() => parseSelection({ n: ['1', '2'] }, SELECTION_KEYS, NOW))).toEqual([
      { field: 'n', message: 'n must be given once, as a single value' },
    ]);
    expect(detailsOf(() => parseSelection({ n: '1', count: '2' }, SELECTION_KEYS, NOW))).toEqual([
      { field: 'count', message: 'n and count are the same parameter; give one of them' },
    ]);
  });

  it.each(JOB_STATES)('reads status=%s', (status) => {
    expect(parseSelection({ status }, SELECTION_KEYS, NOW).status).toBe(status);
  });

  it('refuses a status that is not a job state, naming the states', () => {
    for (const status of ['done', 'QUEUED', '']) {
      expect(detailsOf(() => parseSelection({ status }, SELECTION_KEYS, NOW))).toEqual([
        { field: 'status', message: `status must be one of queued, running, completed, failed, cancelled, not ${JSON.stringify(status)}` },
      ]);
    }
  });

  it('refuses status where the caller does not allow it', () => {
    expect(detailsOf(() => parseSelection({ status: 'queued' }, ['n', 'image_type'], NOW))).toEqual([
      { field: 'status', message: 'status is not a known parameter; known: n, image_type' },
    ]);
  });

  it.each(JOB_LANES)('reads lane=%s', (lane) => {
    expect(parseSelection({ lane }, SELECTION_KEYS, NOW).lane).toBe(lane);
  });

  it('refuses a lane that is not a lane, naming the lanes, and lane where the caller does not allow it', () => {
    for (const lane of ['fast', 'BULK', '']) {
      expect(detailsOf(() => parseSelection({ lane }, SELECTION_KEYS, NOW))).toEqual([
        { field: 'lane', message: `lane must be one of interactive, bulk, not ${JSON.stringify(lane)}` },
      ]);
    }
    expect(detailsOf(() => parseSelection({ lane: 'bulk' }, ['n', 'status'], NOW))).toEqual([
      { field: 'lane', message: 'lane is not a known parameter; known: n, status' },
    ]);
  });

  it('reads after_id, 0 included, for paging from the start', () => {
    expect(parseSelection({ after_id: '0' }, SELECTION_KEYS, NOW).afterId).toBe(0);
    expect(parseSelection({ after_id: '41', n: '5' }, SELECTION_KEYS, NOW)).toMatchObject({ afterId: 41, limit: 5 });
    expect(parseSelection({ after_id: '2147483647' }, SELECTION_KEYS, NOW).afterId).toBe(2147483647);
  });

  it('refuses an after_id that is not an id', () => {
    for (const afterId of ['-1', '01', '1.5', 'abc', '', '2147483648', '99999999999']) {
      expect(detailsOf(() => parseSelection({ after_id: afterId }, SELECTION_KEYS, NOW))).toEqual([
        { field: 'after_id', message: `after_id must be an id from 0 to 2147483647, not ${JSON.stringify(afterId)}` },
      ]);
    }
  });

  it('reads include=histogram, and refuses what it cannot include, naming what it can', () => {
    expect(parseSelection({}, SELECTION_KEYS, NOW).include).toEqual([]);
    expect(parseSelection({ include: 'histogram' }, SELECTION_KEYS, NOW).include).toEqual(['histogram']);
    expect(parseSelection({ include: 'histogram,histogram' }, SELECTION_KEYS, NOW).include).toEqual(['histogram']);
    expect(detailsOf(() => parseSelection({ include: 'histogram,bins' }, SELECTION_KEYS, NOW))).toEqual([
      { field: 'include', message: 'include must name only histogram, not "bins"' },
    ]);
    expect(detailsOf(() => parseSelection({ include: '' }, SELECTION_KEYS, NOW))).toEqual([
      { field: 'include', message: 'include must name only histogram, not ""' },
    ]);
  });

  it('refuses numbers beyond a PostgreSQL integer', () => {
    expect(detailsOf(() => parseSelection({ user_id: '2147483648' }, SELECTION_KEYS, NOW))).toHaveLength(1);
    expect(parseSelection({ user_id: '2147483647' }, SELECTION_KEYS, NOW).userId).toBe(2147483647);
  });
});
