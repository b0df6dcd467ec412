import 'reflect-metadata';
import { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { AuthGuard } from '../src/auth/auth.guard';
import { loadConfig } from '../src/config/app-config';
import { dataSourceOptions } from '../src/database/data-source-options';
import { Session } from '../src/sessions/session.entity';
import { SessionRepository } from '../src/sessions/session.repository';
import { SessionCache } from '../src/sessions/session-cache';
import { SessionsService } from '../src/sessions/sessions.service';
import { api, startProduct } from './bench-support';

/**
 * `npm run bench:auth`: what authenticating a request with a hashed session token costs.
 *
 * 1. The guard itself, against the product's real database: N calls of AuthGuard.canActivate
 *    with a session token (SHA-256, one indexed lookup joining the user), next to N bare
 *    `SELECT 1` round trips on the same pool, which is the floor of any lookup, and next to N
 *    calls answered by the session cache (AUTH_CACHE_SECONDS).
 * 2. End to end over HTTP: N `GET /api/users/:id.json` with the session token against N with
 *    ADMIN_TOKEN (compared in memory, no lookup), interleaved; the difference is what the
 *    session lookup adds to a request. The product runs with the AUTH_CACHE_SECONDS of this
 *    environment: run it with AUTH_CACHE_SECONDS=0 for the figures without the cache.
 */
const N = Number(process.env.BENCH_REQUESTS ?? 5000);
const TARGET_MS = 0.5;

const context = (authorization: string): ExecutionContext =>
  ({
    getHandler: () => context,
    getClass: () => AuthGuard,
    switchToHttp: () => ({ getRequest: () => ({ headers: { authorization } }) }),
  }) as unknown as ExecutionContext;

function stats(samples: number[]): { mean: number; p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    mean: samples.reduce((sum, x) => sum + x, 0) / samples.length,
    p50: sorted[Math.floor(sorted.length / 2)],
    p99: sorted[Math.floor(sorted.length * 0.99)],
  };
}

async function timeEach(n: number, work: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await work();
    samples.push(performance.now() - started);
  }
  return samples;
}

const ms = (x: number) => `${x.toFixed(3)} ms`;
const line = (label: string, s: { mean: number; p50: number; p99: number }) =>
  `${label.padEnd(46)} mean ${ms(s.mean)}  p50 ${ms(s.p50)}  p99 ${ms(s.p99)}`;

async function main(): Promise<void> {
  const product = await startProduct({ AUTH_RATE_LIMIT: '0' });
  const dataSource = await new DataSource(dataSourceOptions(product.databaseUrl)).initialize();
  try {
    const username = `authbench${Date.now()}`;
    const user = await api(product.url, '', '/api/users.json', {
      method: 'POST',
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'bench-password' }),
    });
    const token: string = user.authentication_token;

    // 1. The guard, in this process, on the product's database.
    const guardWith = (cacheSeconds: string) => {
      const config = loadConfig({ DATABASE_URL: product.databaseUrl, ADMIN_TOKEN: product.adminToken, AUTH_CACHE_SECONDS: cacheSeconds });
      const rows = new SessionRepository(dataSource.getRepository(Session));
      const sessions = new SessionsService(rows, new SessionCache(rows, config), config);
      return new AuthGuard(new Reflector(), sessions, config);
    };
    const guard = guardWith('0');
    const cachedGuard = guardWith('30');
    const withSession = context(`Bearer ${token}`);
    await timeEach(500, () => guard.canActivate(withSession)); // warm-up
    await timeEach(500, () => dataSource.query('SELECT 1'));
    const floor = stats(await timeEach(N, () => dataSource.query('SELECT 1')));
    const guardTime = stats(await timeEach(N, () => guard.canActivate(withSession)));
    const adminTime = stats(await timeEach(N, () => guard.canActivate(context(`Bearer ${product.adminToken}`))));
    const cachedTime = stats(await timeEach(N, () => cachedGuard.canActivate(withSession)));

    // 2. Over HTTP: the same route, authenticated by a session or by ADMIN_TOKEN, interleaved.
    const get = (bearer: string) => async () => {
      const response = await fetch(`${product.url}/api/users/${user.id}.json`, { headers: { Authorization: `Bearer ${bearer}` } });
      if (response.status !== 200) throw new Error(`GET /api/users/${user.id}.json: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    };
    await timeEach(300, get(token));
    await timeEach(300, get(product.adminToken));
    const httpSession: number[] = [];
    const httpAdmin: number[] = [];
    for (let round = 0; round < 10; round++) {
      httpSession.push(...(await timeEach(N / 10, get(token))));
      httpAdmin.push(...(await timeEach(N / 10, get(product.adminToken))));
    }
    const session = stats(httpSession);
    const admin = stats(httpAdmin);
    const added = session.p50 - admin.p50;

    console.log(
      `Authentication with hashed session tokens, ${N} sequential requests each (HTTP: AUTH_CACHE_SECONDS=${process.env.AUTH_CACHE_SECONDS ?? '30, the default'}):`,
    );
    console.log(line('guard, session token, no cache (SHA-256 + lookup)', guardTime));
    console.log(line('guard, session token, AUTH_CACHE_SECONDS=30', cachedTime));
    console.log(line('guard, ADMIN_TOKEN (constant-time compare)', adminTime));
    console.log(line('SELECT 1 round trip (the floor of any lookup)', floor));
    console.log(line('HTTP GET /api/users/:id.json, session token', session));
    console.log(line('HTTP GET /api/users/:id.json, ADMIN_TOKEN', admin));
    console.log(
      `Added cost per request of a session: ${ms(added)} over HTTP (p50 difference), ${ms(guardTime.mean)} in the guard ` +
        `(mean) — target < ${TARGET_MS} ms: ${Math.max(added, guardTime.mean) < TARGET_MS ? 'met' : 'NOT met'}`,
    );
  } finally {
    await dataSource.destroy();
    await product.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
