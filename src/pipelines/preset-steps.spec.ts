import { InvalidInputError } from './invalid-input.error';
import { MAX_STEPS } from './job-sequence';
import { parseJobSpec } from './job-spec';
import { branchedJobs, parsePresetSteps, resolvePresetSteps } from './preset-steps';

function refusal(run: () => unknown): InvalidInputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('parsePresetSteps', () => {
  it('stores the normalised sequence and the given params, keeping "auto"', () => {
    expect(
      parsePresetSteps({ job_type: ['resize', 'convert'], params: { resize: { width: 1024 }, convert: { format: 'auto', quality: 80 } } }),
    ).toEqual({
      sequence: ['process', 'resize', 'convert'],
      params: { resize: { width: 1024 }, convert: { format: 'auto', quality: 80 } },
    });
  });

  it('refuses branches: a preset makes one image', () => {
    const branches = [{ steps: ['thumbnail'] }, { steps: ['grayscale'] }];
    expect(refusal(() => parsePresetSteps({ job_type: ['thumbnail', 'grayscale'], params: { branches } })).details[0].field).toBe(
      'params.branches',
    );
  });

  it('refuses what a process job refuses, naming the field', () => {
    expect(refusal(() => parsePresetSteps({ job_type: ['nope'] })).details[0].field).toBe('job_type');
    expect(refusal(() => parsePresetSteps({ job_type: ['convert'], params: { convert: { format: 'bmp' } } })).details[0].field).toBe(
      'params.convert.format',
    );
    expect(refusal(() => parsePresetSteps({ job_type: ['thumbnail'], params: { resize: { width: 10 } } })).details[0].field).toBe(
      'params.resize',
    );
    expect(
      refusal(() => parsePresetSteps({ job_type: ['convert'], params: { convert: { format: 'auto', quality: 0 } } })).details[0].field,
    ).toBe('params.convert.quality');
  });

  it('allows "auto" only as convert’s format', () => {
    expect(refusal(() => parsePresetSteps({ job_type: ['resize'], params: { resize: { width: 'auto' } } })).details[0].field).toBe(
      'params.resize.width',
    );
  });

  it('refuses aggregate pipelines', () => {
    expect(refusal(() => parsePresetSteps({ job_type: ['query', 'median'] })).details[0].field).toBe('job_type');
  });
});

describe('resolvePresetSteps', () => {
  const auto = parsePresetSteps({ job_type: ['thumbnail', 'convert'], params: { convert: { format: 'auto', quality: 80 } } });

  it('turns "auto" into the format the Accept header chooses', () => {
    const resolved = resolvePresetSteps(auto, 'image/webp,*/*');
    expect(resolved.autoFormat).toBe('webp');
    expect(resolved.spec.steps).toEqual([
      { name: 'thumbnail', params: {} },
      { name: 'convert', params: expect.objectContaining({ format: 'webp', quality: 80 }) },
    ]);
    expect(resolvePresetSteps(auto, undefined).spec.params.convert).toMatchObject({ format: 'jpeg' });
  });

  it('leaves a fixed format alone whatever the client accepts', () => {
    const fixed = parsePresetSteps({ job_type: ['thumbnail', 'convert'], params: { convert: { format: 'webp' } } });
    const resolved = resolvePresetSteps(fixed, 'image/avif');
    expect(resolved.autoFormat).toBeNull();
    expect(resolved.spec.params.convert).toMatchObject({ format: 'webp' });
  });
});

describe('branchedJobs', () => {
  const thumb = resolvePresetSteps(
    { sequence: ['process', 'thumbnail', 'convert'], params: { convert: { format: 'webp', quality: 80 } } },
    undefined,
  ).spec;
  const medium = resolvePresetSteps(
    {
      sequence: ['process', 'resize', 'convert'],
      params: { resize: { width: 1024, height: 1024 }, convert: { format: 'auto', quality: 80 } },
    },
    'image/webp',
  ).spec;

  it('makes several presets one job of branches, each made by its last step, which a job reads back as given', () => {
    const [job, ...others] = branchedJobs([thumb, medium]);
    expect(others).toEqual([]);
    expect(job).toMatchObject({ jobType: ['process', 'thumbnail', 'convert', 'resize', 'convert'], made: [0, 1], lastSteps: [1, 3] });
    expect(JSON.parse(JSON.stringify(job.params))).toEqual({
      branches: [
        { steps: ['thumbnail', 'convert'], params: { convert: { format: 'webp', quality: 80 } } },
        { steps: ['resize', 'convert'], params: { resize: { width: 1024, height: 1024 }, convert: { format: 'webp', quality: 80 } } },
      ],
    });
    const spec = parseJobSpec({ job_type: job.jobType, params: job.params });
    if (spec.kind !== 'process') throw new Error('expected a process job');
    expect(spec.steps).toEqual([...thumb.steps, ...medium.steps]);
    expect(spec.branchStarts).toEqual([0, 2]);
  });

  it("makes one preset that preset's ordinary job", () => {
    expect(branchedJobs([medium])).toEqual([{ jobType: medium.sequence, params: medium.params, made: [0], lastSteps: [1] }]);
    expect(branchedJobs([])).toEqual([]);
  });

  it('starts another job where the steps would pass MAX_STEPS', () => {
    const long = parseJobSpec({ job_type: Array.from({ length: MAX_STEPS - 1 }, () => 'flip') });
    if (long.kind !== 'process') throw new Error('expected a process job');
    const jobs = branchedJobs([thumb, long, medium, thumb]);
    expect(jobs.map((job) => [job.made, job.lastSteps])).toEqual([
      [[0], [1]],
      [[1], [MAX_STEPS - 2]],
      [
        [2, 3],
        [1, 3],
      ],
    ]);
    for (const job of jobs) expect(job.jobType.length - 1).toBeLessThanOrEqual(MAX_STEPS);
  });
});
