import { within } from './within';

describe('within', () => {
  it('answers what the promise answers, or its rejection', async () => {
    await expect(within(Promise.resolve(7), 1000, 'The queue')).resolves.toBe(7);
    await expect(within(Promise.reject(new Error('refused')), 1000, 'The queue')).rejects.toThrow('refused');
  });

  it('rejects, naming what did not answer, when the promise never settles', async () => {
    await expect(within(new Promise(() => undefined), 10, 'The process queue')).rejects.toThrow(
      'The process queue did not answer within 0.01 s',
    );
  });
});
