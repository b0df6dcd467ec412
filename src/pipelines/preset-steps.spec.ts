import { InvalidInputError } from './invalid-input.error';
import { parsePresetSteps, resolvePresetSteps } from './preset-steps';

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
