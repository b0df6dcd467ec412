import { JobMetrics, operationLabel } from './job-metrics';
import { MetricsRegistry } from './metrics-registry';

describe('operationLabel', () => {
  it("is the job's pipeline kind, whatever its steps", () => {
    expect(operationLabel(['process', 'grayscale', 'histogram'])).toBe('process');
    expect(operationLabel(['query', 'histogram', 'median'])).toBe('query');
    expect(operationLabel(['search', 'histogram', 'knn'])).toBe('search');
  });

  it('is one bounded value for a sequence that names no kind', () => {
    expect(operationLabel(['grayscale'])).toBe('unknown');
    expect(operationLabel([])).toBe('unknown');
  });
});

describe('JobMetrics', () => {
  it('counts jobs by pipeline kind and times steps by operation, in its own registry', async () => {
    const metrics = new MetricsRegistry();
    const jobs = new JobMetrics(metrics);
    jobs.jobsCreated(['process', 'grayscale'], 3);
    jobs.jobsCreated(['query', 'histogram', 'median'], 0);
    jobs.jobEnded(['process', 'grayscale'], 'completed');
    jobs.jobEnded(['search', 'histogram', 'knn'], 'cancelled');
    jobs.attemptEnded(['process', 'grayscale'], 'completed', 0.2);
    jobs.stepEnded('grayscale', false, 0.05);
    const { text } = await metrics.exposition();
    expect(text).toContain('darkroom_jobs_created_total{operation="process"} 3');
    expect(text).not.toContain('darkroom_jobs_created_total{operation="query"}');
    expect(text).toContain('darkroom_jobs_completed_total{operation="process"} 1');
    expect(text).toContain('darkroom_jobs_cancelled_total{operation="search"} 1');
    expect(text).toContain('darkroom_job_duration_seconds_count{operation="process",outcome="completed"} 1');
    expect(text).toContain('darkroom_step_duration_seconds_bucket{le="0.05",operation="grayscale",reused="false"} 1');
    expect(text).toContain('process_cpu_seconds_total');
    expect((await new MetricsRegistry().exposition()).text).not.toContain('darkroom_jobs_created_total{');
  });
});
