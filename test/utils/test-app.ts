import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { loadConfig } from '../../src/config/app-config';
import { WorkerAppModule } from '../../src/worker/worker-app.module';
import { TEST_DATABASE_URL_VARIABLE } from '../setup/test-env';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export type TestEnv = Record<string, string | undefined>;

/** Rate limits off (0): the environment of tests that are not about them. */
export const NO_RATE_LIMITS = { AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0' };

/**
 * The environment of one suite's API and workers: the suite's own database (test/setup/suite-environment.ts),
 * that database's data directory, and its own queue namespace on Redis, so suites sharing a Redis never see
 * each other's jobs.
 */
export function testEnv(overrides: TestEnv = {}): TestEnv {
  const databaseUrl = overrides.DATABASE_URL ?? process.env[TEST_DATABASE_URL_VARIABLE];
  if (!databaseUrl) throw new Error(`${TEST_DATABASE_URL_VARIABLE} is unset: run the e2e tests through jest`);
  return {
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN,
    DATA_DIR: dataDirOf(databaseUrl),
    QUEUE_PREFIX: `test${process.pid}x${Date.now().toString(36)}`,
    WORKER_CONCURRENCY: '2',
    // Suites run two at a time, each with several apps, on one server of max_connections 100.
    DATABASE_POOL_SIZE: '5',
    // Suites' workers share the machine: none of them serves its metrics unless a test asks.
    WORKER_METRICS_PORT: '0',
    // A suite closes its apps while their workers may still run its last jobs: SHUTDOWN_GRACE's
    // 30 s would outlast jest's hook timeout (an idempotency suite's close once did in CI).
    SHUTDOWN_GRACE: '5',
    // Workers write no histogram snapshots into a suite's storage, whose files several suites
    // count; test/aggregates-exact.e2e-spec.ts turns them on.
    HISTOGRAM_SNAPSHOT_CHANGES: '0',
    // Suites make many users, jobs and uploads quickly; test/rate-limits.e2e-spec.ts sets the limits it tests.
    ...NO_RATE_LIMITS,
    ...overrides,
  };
}

const dataDirs = new Map<string, string>();

/**
 * One data directory per database, as in production: with STORAGE=local every node of an
 * installation must see the same files, and a node whose DATA_DIR lacks them is refused at start.
 */
function dataDirOf(databaseUrl: string): string {
  let dataDir = dataDirs.get(databaseUrl);
  if (!dataDir) {
    dataDir = mkdtempSync(join(tmpdir(), 'darkroom-data-'));
    dataDirs.set(databaseUrl, dataDir);
  }
  return dataDir;
}

/** The real application, as main.ts builds it, on the suite's database. */
export async function createTestApp(env: TestEnv = testEnv()): Promise<NestExpressApplication> {
  const config = loadConfig(env);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config, env.DATABASE_URL!)] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: ['error', 'warn'] });
  configureApp(app);
  return app.init();
}

/** A real worker (BullMQ consumers and the pipeline) in this process, as worker.main.ts builds it. */
export async function startTestWorker(env: TestEnv): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(WorkerAppModule.forRoot(loadConfig(env), env.DATABASE_URL!), {
    logger: ['error', 'warn'],
    abortOnError: false,
  });
}

export type Agent = ReturnType<typeof request>;

export function api(app: NestExpressApplication): Agent {
  return request(app.getHttpServer());
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Polls a job until it is completed or failed. */
export async function waitForJob(
  app: NestExpressApplication,
  token: string,
  jobId: number,
  timeoutMs = 60_000,
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api(app).get(`/api/jobs/${jobId}.json`).set(bearer(token)).expect(200);
    if (body.status === 'completed' || body.status === 'failed') return body;
    if (Date.now() > deadline) throw new Error(`Job ${jobId} still ${body.status} after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
