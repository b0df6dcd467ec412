import { InvalidInputError } from './invalid-input.error';
import { parseAggregateRequest } from './aggregate-request';

const NOW = new Date('2026-11-23T15:00:00Z');
const MEDIAN = ['query', 'histogram', 'median'];
const SEARCH = ['search', 'histogram', 'nearest_neighbor'];

const details = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as InvalidInputError).details;
  }
  throw new Error('expected a refusal');
};

describe('parseAggregateRequest', () => {
  it('reads the environment form and the params form to the same request', () => {
    const fromEnvironment = parseAggregateRequest(
      SEARCH,
      'job_sequence',
      `QUERY='n=5&days=today&image_type=histogram&user_id=3' USER=123 TARGET=456 K=7`,
      undefined,
      NOW,
    );
    const fromParams = parseAggregateRequest(
      SEARCH,
      'job_sequence',
      undefined,
      { n: 5, days: 'today', image_type: 'histogram', user_id: 3, user: 123, target: 456, k: 7 },
      NOW,
    );
    expect(fromParams).toEqual(fromEnvironment);
    expect(fromEnvironment).toEqual({
      reducer: 'nearest_neighbor',
      selection: {
        limit: 5,
        since: new Date('2026-11-23T00:00:00Z'),
        imageType: 'histogram',
        userId: 3,
        status: null,
        lane: null,
        afterId: null,
        include: [],
      },
      userId: 123,
      target: { imageId: 456 },
      k: 7,
    });
  });

  it('selects every histogram unless n says otherwise, and K defaults to 10', () => {
    expect(parseAggregateRequest(MEDIAN, 'job_sequence', "QUERY='days=today'", undefined, NOW).selection.limit).toBeNull();
    expect(parseAggregateRequest(MEDIAN, 'job_sequence', undefined, undefined, NOW).selection).toEqual({
      limit: null,
      since: null,
      imageType: null,
      userId: null,
      status: null,
      lane: null,
      afterId: null,
      include: [],
    });
    expect(
      parseAggregateRequest(['query', 'histogram', 'nearest_neighbor'], 'job_sequence', 'TARGET_S3_HIST=outputs/a.png', undefined, NOW),
    ).toMatchObject({
      k: 10,
      target: { s3Key: 'outputs/a.png' },
    });
  });

  it.each([
    [MEDIAN, `QUERY='$(rm -rf /)'`, undefined, 'environment.QUERY.$(rm -rf /)'],
    [MEDIAN, `QUERY='n=all`, undefined, 'environment'],
    [MEDIAN, `COLOUR=red`, undefined, 'environment'],
    [MEDIAN, `QUERY='n=all&colour=red'`, undefined, 'environment.QUERY.colour'],
    [MEDIAN, `QUERY='n=1&n=2'`, undefined, 'environment.QUERY.n'],
    [MEDIAN, `QUERY='days=%zz'`, undefined, 'environment.QUERY'],
    [MEDIAN, `K=3`, undefined, 'K'],
    [MEDIAN, undefined, { colour: 'red' }, 'params.colour'],
    [MEDIAN, undefined, { days: 'yesterday' }, 'params.days'],
    [SEARCH, `K=5`, undefined, 'TARGET'],
    [SEARCH, `TARGET=7 K=0`, undefined, 'K'],
    [SEARCH, undefined, { target: 7, k: 5000 }, 'params.k'],
    [SEARCH, undefined, { target: { id: 7 } }, 'params.target'],
    [SEARCH, `TARGET=7 TARGET_S3_HIST=a.png`, undefined, 'TARGET_S3_HIST'],
    [SEARCH, `TARGET_S3_HIST='../etc/passwd'`, undefined, 'TARGET_S3_HIST'],
    [['query', 'histogram', 'mode'], undefined, undefined, 'job_sequence'],
    [['search', 'histogram', 'median'], undefined, undefined, 'job_sequence'],
    [MEDIAN, `QUERY='n=1'`, { n: 1 }, 'params'],
    [MEDIAN, `QUERY='status=completed'`, undefined, 'environment.QUERY.status'],
    [MEDIAN, undefined, { status: 'completed' }, 'params.status'],
    [MEDIAN, `QUERY='lane=bulk'`, undefined, 'environment.QUERY.lane'],
    [MEDIAN, undefined, { lane: 'bulk' }, 'params.lane'],
  ])('refuses %j with %j / %j, naming %s', (sequence, environment, params, field) => {
    expect(
      details(() => parseAggregateRequest(sequence, 'job_sequence', environment, params, NOW)).map((detail) => detail.field),
    ).toContain(field);
  });
});
