import { ConfigError, loadConfig } from './app-config';

describe('loadConfig: quotas and CORS', () => {
  it('defaults to 1000 jobs in progress, 10 GB stored and no CORS origins', () => {
    const config = loadConfig({});
    expect(config.QUOTA_JOBS_IN_PROGRESS).toBe(1000);
    expect(config.QUOTA_STORAGE_BYTES).toBe(10 * 1024 ** 3);
    expect(config.CORS_ORIGINS).toEqual([]);
  });

  it('reads a comma-separated list of origins, trimmed and without a trailing slash', () => {
    const config = loadConfig({ CORS_ORIGINS: ' https://app.example.com/ ,http://localhost:5173', QUOTA_STORAGE_BYTES: '1000' });
    expect(config.CORS_ORIGINS).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.QUOTA_STORAGE_BYTES).toBe(1000);
  });

  it.each([
    [{ QUOTA_JOBS_IN_PROGRESS: '0' }, 'QUOTA_JOBS_IN_PROGRESS must be a positive integer'],
    [{ QUOTA_JOBS_IN_PROGRESS: 'lots' }, 'QUOTA_JOBS_IN_PROGRESS must be a positive integer'],
    [{ QUOTA_STORAGE_BYTES: '10GB' }, 'QUOTA_STORAGE_BYTES must be a whole number of bytes'],
    [{ CORS_ORIGINS: 'app.example.com' }, 'CORS_ORIGINS must be a comma-separated list of origins'],
    [{ CORS_ORIGINS: 'https://app.example.com/path' }, 'CORS_ORIGINS must be a comma-separated list of origins'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS must be a comma-separated list of origins'],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
