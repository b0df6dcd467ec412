import { redisConnection } from './queue.module';

describe('redisConnection', () => {
  it('reads host, port and database from a plain URL', () => {
    expect(redisConnection('redis://cache.internal:6380/2')).toMatchObject({
      host: 'cache.internal',
      port: 6380,
      db: 2,
      username: undefined,
      password: undefined,
      tls: undefined,
      maxRetriesPerRequest: null,
    });
  });

  it('reads credentials (URL-encoded) and turns on TLS for rediss://', () => {
    expect(redisConnection('rediss://worker:p%40ss%2Fword@redis.example.com')).toMatchObject({
      host: 'redis.example.com',
      port: 6379,
      db: 0,
      username: 'worker',
      password: 'p@ss/word',
      tls: {},
    });
  });
});
