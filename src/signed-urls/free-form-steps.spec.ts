import { InvalidInputError } from '../pipelines/invalid-input.error';
import { parsePresetSteps } from '../pipelines/preset-steps';
import { decodeFreeFormSteps, encodeFreeFormSteps, isFreeForm } from './free-form-steps';

describe('free-form steps in a public URL', () => {
  const steps = parsePresetSteps({ job_type: ['resize', 'convert'], params: { resize: { width: 300 }, convert: { format: 'auto' } } });

  it('round-trips steps through a URL-safe segment that no preset name can be', () => {
    const segment = encodeFreeFormSteps(steps);
    expect(segment).toMatch(/^~[A-Za-z0-9_-]+$/);
    expect(isFreeForm(segment)).toBe(true);
    expect(isFreeForm('thumb_256')).toBe(false);
    expect(decodeFreeFormSteps(segment)).toEqual(steps);
  });

  it('gives the same segment for the same steps however they were written', () => {
    const again = parsePresetSteps({
      job_type: ['process', 'resize', 'convert'],
      params: { convert: { format: 'auto' }, resize: { width: 300 } },
    });
    expect(encodeFreeFormSteps(again)).toBe(encodeFreeFormSteps(steps));
  });

  it.each([
    ['not base64url JSON', '~!!!'],
    ['JSON that is not an object', `~${Buffer.from('[1,2]').toString('base64url')}`],
    ['steps that are not names', `~${Buffer.from('{"job_type":[1]}').toString('base64url')}`],
    ['params that are not an object', `~${Buffer.from('{"job_type":["resize"],"params":[]}').toString('base64url')}`],
  ])('refuses %s as invalid input', (_case, segment) => {
    expect(() => decodeFreeFormSteps(segment)).toThrow(InvalidInputError);
  });

  it('checks decoded steps as a preset’s: an unknown operation is invalid input', () => {
    const segment = `~${Buffer.from('{"job_type":["levitate"]}').toString('base64url')}`;
    expect(() => decodeFreeFormSteps(segment)).toThrow(/levitate/);
  });
});
