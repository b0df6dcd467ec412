import { resolve } from 'node:path';
import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 3000, DATA_DIR: resolve('./data'), EMBEDDED_PG_PORT: 5433, DATABASE_POOL_SIZE: 20 });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.ADMIN_TOKEN).toBeUndefined();
  });

  it('reads the variables it knows and ignores the rest of the environment', () => {
    const config = loadConfig({ PORT: '8080', DATABASE_URL: 'postgres://u@h/db', DATA_DIR: '/srv/dr', HOME: '/root' });
    expect(config).toMatchObject({ PORT: 8080, DATABASE_URL: 'postgres://u@h/db', DATA_DIR: '/srv/dr' });
    expect(config).not.toHaveProperty('HOME');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be an integer between 1 and 65535'],
    [{ PORT: '70000' }, 'PORT must be an integer between 1 and 65535'],
    [{ DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL must be a postgres:// or postgresql:// connection URL'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN must be at least 16 characters long'],
    [{ EMBEDDED_PG_PORT: '0' }, 'EMBEDDED_PG_PORT must be an integer between 1 and 65535'],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE must be a whole number of connections between 1 and 1000'],
    [{ DATABASE_POOL_SIZE: 'many' }, 'DATABASE_POOL_SIZE must be a whole number of connections between 1 and 1000'],
    [{ AUTH_RATE_LIMIT: '-1' }, 'AUTH_RATE_LIMIT must be a whole number of requests a minute (0 turns the limit off)'],
    [{ JOB_RATE_LIMIT: 'lots' }, 'JOB_RATE_LIMIT must be a whole number of jobs a minute (0 turns the limit off)'],
    [{ UPLOAD_RATE_LIMIT: '1.5' }, 'UPLOAD_RATE_LIMIT must be a whole number of uploads a minute (0 turns the limit off)'],
    [{ AUTH_CACHE_SECONDS: '3601' }, 'AUTH_CACHE_SECONDS must be a whole number of seconds, at most 3600 (0 turns the cache off)'],
    [{ AUTH_CACHE_SECONDS: '2.5' }, 'AUTH_CACHE_SECONDS must be a whole number of seconds, at most 3600 (0 turns the cache off)'],
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY must be false, true, a number of proxy hops'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY must be false, true, a number of proxy hops'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be at least 16 characters long'],
    [{ WORKER_METRICS_PORT: '-1' }, 'WORKER_METRICS_PORT must be an integer between 0 (off) and 65535'],
    [{ ALLOW_PRIVATE_WEBHOOKS: 'yes' }, 'ALLOW_PRIVATE_WEBHOOKS must be true or false'],
    [{ WEBHOOK_RETRY_HOURS: '-1' }, 'WEBHOOK_RETRY_HOURS must be a whole number of hours (0: no retries)'],
    [{ WEBHOOK_RETRY_BASE_MS: '0' }, 'WEBHOOK_RETRY_BASE_MS must be a positive number of milliseconds'],
    [{ WEBHOOK_SECRET_KEY: 'too-short' }, 'WEBHOOK_SECRET_KEY must be at least 32 characters long'],
    [{ SHUTDOWN_DRAIN: '-1' }, 'SHUTDOWN_DRAIN must be a whole number of seconds (0: no drain)'],
    [{ SHUTDOWN_DRAIN: '2.5' }, 'SHUTDOWN_DRAIN must be a whole number of seconds (0: no drain)'],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads the stop timings: 5 s of drain and 30 s of grace by default, 0 for no drain', () => {
    expect(loadConfig({})).toMatchObject({ SHUTDOWN_DRAIN: 5, SHUTDOWN_GRACE: 30 });
    expect(loadConfig({ SHUTDOWN_DRAIN: '0' }).SHUTDOWN_DRAIN).toBe(0);
  });

  it('reads the webhook settings: http and private addresses refused, and a day of retries, by default', () => {
    expect(loadConfig({})).toMatchObject({
      ALLOW_HTTP_WEBHOOKS: false,
      ALLOW_PRIVATE_WEBHOOKS: false,
      WEBHOOK_RETRY_HOURS: 24,
      WEBHOOK_RETRY_BASE_MS: 10_000,
    });
    expect(loadConfig({ ALLOW_HTTP_WEBHOOKS: 'true', ALLOW_PRIVATE_WEBHOOKS: '1', WEBHOOK_RETRY_HOURS: '0' })).toMatchObject({
      ALLOW_HTTP_WEBHOOKS: true,
      ALLOW_PRIVATE_WEBHOOKS: true,
      WEBHOOK_RETRY_HOURS: 0,
    });
    expect(loadConfig({ ALLOW_HTTP_WEBHOOKS: 'false' }).ALLOW_HTTP_WEBHOOKS).toBe(false);
  });

  it('reads the rate limits (0 turns one off) and TRUST_PROXY as Express takes it', () => {
    expect(loadConfig({})).toMatchObject({
      AUTH_RATE_LIMIT: 10,
      JOB_RATE_LIMIT: 600,
      UPLOAD_RATE_LIMIT: 120,
      TRUST_PROXY: false,
      AUTH_CACHE_SECONDS: 30,
    });
    expect(loadConfig({ AUTH_CACHE_SECONDS: '0' }).AUTH_CACHE_SECONDS).toBe(0);
    expect(loadConfig({ AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '3', UPLOAD_RATE_LIMIT: '7' })).toMatchObject({
      AUTH_RATE_LIMIT: 0,
      JOB_RATE_LIMIT: 3,
      UPLOAD_RATE_LIMIT: 7,
    });
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'FALSE' }).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.168.1.1/255.255.255.0' }).TRUST_PROXY).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '192.168.1.1/255.255.255.0',
    ]);
  });
});
