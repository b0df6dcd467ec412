import type { Request } from 'express';
import { jobsInBody } from './rate-limit.decorator';

describe('jobsInBody', () => {
  const request = (body: unknown) => ({ body }) as Request;

  it('counts one job, or each job of a batch', () => {
    expect(jobsInBody(request({ image_id: 1, job_type: 'grayscale' }))).toBe(1);
    expect(jobsInBody(request({ jobs: [{}, {}, {}] }))).toBe(3);
    expect(jobsInBody(request({ jobs: [] }))).toBe(1);
    expect(jobsInBody(request(undefined))).toBe(1);
  });
});
