import { InvalidInputError } from './invalid-input.error';
import { normalizeJobSequence, pipelineKind } from './job-sequence';

describe('normalizeJobSequence', () => {
  it('prefixes a bare list of operations with process', () => {
    expect(normalizeJobSequence(['grayscale'], 'job_type')).toEqual(['process', 'grayscale']);
    expect(normalizeJobSequence(['grayscale', 'histogram'], 'job_type')).toEqual(['process', 'grayscale', 'histogram']);
  });

  it("keeps the seed's sequences that already name their kind", () => {
    expect(normalizeJobSequence(['process', 'grayscale', 'histogram'], 'job_sequence')).toEqual(['process', 'grayscale', 'histogram']);
    expect(pipelineKind(normalizeJobSequence(['query', 'histogram', 'median'], 'job_sequence'))).toBe('query');
  });

  it('refuses a kind with no operation after it, naming the field', () => {
    expect(() => normalizeJobSequence(['search'], 'job_sequence')).toThrow(InvalidInputError);
    expect(() => normalizeJobSequence(['process'], 'job_type')).toThrow(
      expect.objectContaining({
        message: 'job_type must name at least one operation after "process"',
        details: [{ field: 'job_type', message: 'job_type must name at least one operation after "process"' }],
      }),
    );
  });

  it('refuses sequences longer than 32 operations', () => {
    expect(() => normalizeJobSequence(Array(33).fill('blur'), 'job_type')).toThrow(/at most 32/);
    expect(normalizeJobSequence(Array(32).fill('blur'), 'job_type')).toHaveLength(33);
  });
});
