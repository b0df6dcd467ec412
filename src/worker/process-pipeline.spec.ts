import { UnrecoverableError } from 'bullmq';
import { PixelThreadLost } from './operations/pixel-threads';
import { stepFailure } from './process-pipeline';

describe('stepFailure', () => {
  it('fails the job for good when the operation fails on its input', () => {
    const failure = stepFailure(new Error('VipsJpeg: Premature end of input file'), 0, 'grayscale');
    expect(failure).toBeInstanceOf(UnrecoverableError);
    expect(failure.message).toBe('Step 1 (grayscale) could not process its input: VipsJpeg: Premature end of input file');
  });

  it('leaves a lost pool thread retryable', () => {
    const lost = new PixelThreadLost('it exited with code 1');
    const failure = stepFailure(lost, 1, 'histogram');
    expect(failure).toBe(lost);
    expect(failure).not.toBeInstanceOf(UnrecoverableError);
  });
});
