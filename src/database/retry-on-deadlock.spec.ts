import { QueryFailedError } from 'typeorm';
import { retryOnDeadlock } from './retry-on-deadlock';

const failure = (code: string) => new QueryFailedError('DELETE …', [], Object.assign(new Error(`code ${code}`), { code }));

describe('retryOnDeadlock', () => {
  it('runs the work again when PostgreSQL broke a deadlock with it, and returns its result', async () => {
    const work = jest.fn().mockRejectedValueOnce(failure('40P01')).mockRejectedValueOnce(failure('40001')).mockResolvedValue('done');
    await expect(retryOnDeadlock(work)).resolves.toBe('done');
    expect(work).toHaveBeenCalledTimes(3);
  });

  it('gives up after its attempts with the last error', async () => {
    const work = jest.fn().mockRejectedValue(failure('40P01'));
    await expect(retryOnDeadlock(work, 2)).rejects.toThrow('code 40P01');
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('does not retry any other error', async () => {
    const work = jest.fn().mockRejectedValue(failure('23505'));
    await expect(retryOnDeadlock(work)).rejects.toThrow('code 23505');
    const plain = jest.fn().mockRejectedValue(new Error('storage down'));
    await expect(retryOnDeadlock(plain)).rejects.toThrow('storage down');
    expect(work).toHaveBeenCalledTimes(1);
    expect(plain).toHaveBeenCalledTimes(1);
  });
});
