import { InvalidInputError } from './invalid-input.error';
import { jobSpecOf, parseJobSpec, requestedSequence, startsFromSource } from './job-spec';
import { BlurParams, ConvertParams, ResizeParams } from './operation-params';

const NOW = new Date('2026-11-23T15:00:00Z');

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected a refusal');
};

describe('requestedSequence', () => {
  it('normalises whichever of job_type and job_sequence is given, and says which', () => {
    expect(requestedSequence({ job_type: ['grayscale'] })).toEqual({ sequence: ['process', 'grayscale'], field: 'job_type' });
    expect(requestedSequence({ job_sequence: ['query', 'histogram', 'median'] })).toEqual({
      sequence: ['query', 'histogram', 'median'],
      field: 'job_sequence',
    });
    expect(requestedSequence({})).toBeUndefined();
  });

  it('refuses both', () => {
    expect(refusal(() => requestedSequence({ job_type: ['blur'], job_sequence: ['blur'] })).details).toEqual([
      { field: 'job_sequence', message: 'Give job_type or job_sequence, not both' },
    ]);
  });
});

describe('parseJobSpec', () => {
  it('requires job_type or job_sequence', () => {
    expect(refusal(() => parseJobSpec({ params: {} })).details).toEqual([
      { field: 'job_type', message: 'job_type (or job_sequence) is required' },
    ]);
  });

  it("reads a process job's steps, each with its checked parameters, and stores only those given", () => {
    const spec = parseJobSpec({ job_type: ['resize', 'blur', 'flip'], params: { resize: { width: 100 } } });
    expect(spec.kind).toBe('process');
    if (spec.kind !== 'process') return;
    expect(spec.sequence).toEqual(['process', 'resize', 'blur', 'flip']);
    expect(spec.steps.map(({ name }) => name)).toEqual(['resize', 'blur', 'flip']);
    expect(spec.steps[0].params).toBeInstanceOf(ResizeParams);
    expect(spec.steps[0].params).toMatchObject({ width: 100 });
    expect(spec.steps[1].params).toBeInstanceOf(BlurParams);
    expect(spec.steps[2].params).toEqual({});
    expect(Object.keys(spec.params)).toEqual(['resize']);
    expect(JSON.parse(JSON.stringify(spec.params))).toEqual({ resize: { width: 100 } });
  });

  it('gives a step named twice the same parameters', () => {
    const spec = parseJobSpec({ job_sequence: ['process', 'blur', 'grayscale', 'blur'], params: { blur: { sigma: 3 } } });
    if (spec.kind !== 'process') throw new Error('expected a process job');
    expect(spec.steps[0].params).toBe(spec.steps[2].params);
  });

  it('refuses unknown operations, parameters of no step, bad and missing parameters, all at once', () => {
    const error = refusal(() =>
      parseJobSpec({ job_type: ['sepia', 'rotate', 'blur'], params: { blur: { sigma: 'soft' }, resize: { width: 10 } } }),
    );
    const fields = error.details.map(({ field }) => field);
    expect(error.details[0]).toEqual({
      field: 'job_type',
      message: expect.stringMatching(/^"sepia" is not an operation; known: .*grayscale/),
    });
    expect(fields).toEqual(expect.arrayContaining(['params.resize', 'params.rotate.angle', 'params.blur.sigma']));
    expect(error.details).toContainEqual({ field: 'params.resize', message: 'params.resize names no step of this job' });
    expect(error.message).toBe(`Invalid values for ${[...new Set(fields)].join(', ')}`);
  });

  it('names job_sequence in its messages when the job came as job_sequence', () => {
    expect(refusal(() => parseJobSpec({ job_sequence: ['process', 'sepia'] })).details[0].field).toBe('job_sequence');
  });

  it('reads a query job from environment or from params, keeping params as given', () => {
    const fromEnvironment = parseJobSpec({ job_sequence: ['query', 'histogram', 'median'], environment: "QUERY='days=today'" }, NOW);
    expect(fromEnvironment).toEqual({
      kind: 'query',
      sequence: ['query', 'histogram', 'median'],
      aggregate: expect.objectContaining({
        reducer: 'median',
        selection: expect.objectContaining({ since: new Date('2026-11-23T00:00:00Z') }),
      }),
      params: {},
    });
    const params = { days: 'today', n: 'all' };
    const fromParams = parseJobSpec({ job_sequence: ['query', 'histogram', 'median'], params }, NOW);
    expect(fromParams).toMatchObject({ kind: 'query', params });
    if (fromParams.kind === 'process') return;
    expect(fromParams.aggregate.selection.since).toEqual(new Date('2026-11-23T00:00:00Z'));
  });

  it("refuses an aggregate's bad request, naming the field", () => {
    expect(
      refusal(() => parseJobSpec({ job_sequence: ['search', 'histogram', 'nearest_neighbor'], environment: 'K=3' })).details[0].field,
    ).toBe('TARGET');
    expect(
      refusal(() => parseJobSpec({ job_sequence: ['query', 'histogram', 'median'], environment: "QUERY='status=failed'" })).details,
    ).toEqual([
      { field: 'environment.QUERY.status', message: 'status is not a known parameter; known: n, count, days, image_type, user_id' },
    ]);
  });
});

describe('parseJobSpec, a job of branches', () => {
  const branched = {
    job_type: ['process', 'thumbnail', 'convert', 'resize', 'convert'],
    params: {
      branches: [
        { steps: ['thumbnail', 'convert'], params: { convert: { format: 'webp', quality: 80 } } },
        { steps: ['resize', 'convert'], params: { resize: { width: 1024, height: 1024 }, convert: { format: 'jpeg', quality: 85 } } },
      ],
    },
  };

  it("gives each branch's steps their own params, two convert steps included, each branch starting from the source", () => {
    const spec = parseJobSpec(branched);
    if (spec.kind !== 'process') throw new Error('expected a process job');
    expect(spec.sequence).toEqual(branched.job_type);
    expect(spec.steps.map(({ name }) => name)).toEqual(['thumbnail', 'convert', 'resize', 'convert']);
    expect(spec.steps[1].params).toBeInstanceOf(ConvertParams);
    expect(spec.steps[1].params).toMatchObject({ format: 'webp', quality: 80 });
    expect(spec.steps[3].params).toMatchObject({ format: 'jpeg', quality: 85 });
    expect(spec.branchStarts).toEqual([0, 2]);
    expect([0, 1, 2, 3].map((index) => startsFromSource(spec, index))).toEqual([true, false, true, false]);
    expect(JSON.parse(JSON.stringify(spec.params))).toEqual(branched.params);
    expect(jobSpecOf({ jobType: spec.sequence, params: spec.params, environment: null })).toEqual(spec);
  });

  it('reads an ordinary job as one branch', () => {
    const spec = parseJobSpec({ job_type: ['grayscale', 'histogram'] });
    expect(spec).toMatchObject({ kind: 'process', branchStarts: [0] });
  });

  it('stores only the params given, as an ordinary job does', () => {
    const spec = parseJobSpec({
      job_type: ['grayscale', 'thumbnail'],
      params: { branches: [{ steps: ['grayscale'] }, { steps: ['thumbnail'], params: {} }] },
    });
    expect(JSON.parse(JSON.stringify(spec.params))).toEqual({
      branches: [
        { steps: ['grayscale'], params: {} },
        { steps: ['thumbnail'], params: {} },
      ],
    });
  });

  it("names each branch's faults by its position", () => {
    const error = refusal(() =>
      parseJobSpec({
        job_type: ['thumbnail', 'convert', 'sepia'],
        params: { branches: [{ steps: ['thumbnail', 'convert'], params: { convert: { format: 'gif' } } }, { steps: ['sepia'] }] },
      }),
    );
    expect(error.details).toEqual([
      { field: 'params.branches[0].params.convert.format', message: expect.any(String) },
      { field: 'params.branches[1].steps', message: expect.stringMatching(/^"sepia" is not an operation/) },
    ]);
  });

  it('refuses a job whose steps are not its branches one after the other', () => {
    const error = refusal(() => parseJobSpec({ ...branched, job_type: ['resize', 'convert', 'thumbnail', 'convert'] }));
    expect(error.details).toEqual([
      {
        field: 'job_type',
        message: 'job_type must name the steps of params.branches, one branch after the other (thumbnail, convert, resize, convert)',
      },
    ]);
  });

  it('refuses fewer than two branches, malformed ones, and params beside them', () => {
    const field = (params: Record<string, unknown>) => refusal(() => parseJobSpec({ job_type: ['thumbnail'], params })).details;
    expect(field({ branches: [{ steps: ['thumbnail'] }] })[0].field).toBe('params.branches');
    expect(field({ branches: {} })[0].field).toBe('params.branches');
    expect(field({ branches: [{ steps: [] }, { steps: 'thumbnail' }] }).map((detail) => detail.field)).toEqual([
      'params.branches[0].steps',
      'params.branches[1].steps',
    ]);
    expect(field({ branches: [{ steps: ['thumbnail'], params: [] }, null] }).map((detail) => detail.field)).toEqual([
      'params.branches[0].params',
      'params.branches[1].steps',
    ]);
    expect(field({ branches: [{ steps: ['thumbnail'] }, { steps: ['thumbnail'] }], thumbnail: {} })).toEqual([
      { field: 'params.thumbnail', message: "With params.branches, each step's params go in its branch" },
    ]);
  });
});

describe('jobSpecOf', () => {
  it('reads a stored process job as parseJobSpec does', () => {
    const row = { jobType: ['process', 'resize'], params: { resize: { width: 10 } }, environment: 'K=3' };
    expect(jobSpecOf(row, NOW)).toEqual(parseJobSpec({ job_type: ['process', 'resize'], params: { resize: { width: 10 } } }, NOW));
  });

  it("reads a stored aggregate's selection from params when it has some, else from environment", () => {
    const fromParams = jobSpecOf(
      { jobType: ['search', 'histogram', 'nearest_neighbor'], params: { target: 7, k: 3 }, environment: null },
      NOW,
    );
    expect(fromParams).toMatchObject({ kind: 'search', aggregate: { target: { imageId: 7 }, k: 3 } });
    const fromEnvironment = jobSpecOf({ jobType: ['search', 'histogram', 'nearest_neighbor'], params: {}, environment: 'TARGET=8' }, NOW);
    expect(fromEnvironment).toMatchObject({ kind: 'search', aggregate: { target: { imageId: 8 }, k: 10 } });
  });

  it('reads dates relative to now, as the job runs', () => {
    const row = { jobType: ['query', 'histogram', 'mean'], params: { days: '1' }, environment: null };
    const spec = jobSpecOf(row, NOW);
    if (spec.kind === 'process') throw new Error('expected an aggregate');
    expect(spec.aggregate.selection.since).toEqual(new Date('2026-11-22T15:00:00Z'));
  });

  it('refuses a stored row that is no longer a valid job', () => {
    expect(refusal(() => jobSpecOf({ jobType: ['process', 'sepia'], params: {}, environment: null })).details[0].field).toBe('job_type');
  });
});
