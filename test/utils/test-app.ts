import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { loadConfig } from '../../src/config/app-config';
import { TEST_DATABASE_URL_VARIABLE } from '../setup/test-env';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** The real application, as main.ts builds it, on the run's fresh database. */
export async function createTestApp(): Promise<NestExpressApplication> {
  const databaseUrl = process.env[TEST_DATABASE_URL_VARIABLE];
  if (!databaseUrl) throw new Error(`${TEST_DATABASE_URL_VARIABLE} is unset: run the e2e tests through jest`);
  const config = loadConfig({ DATABASE_URL: databaseUrl, ADMIN_TOKEN, DATA_DIR: process.env.DATA_DIR });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config, databaseUrl)] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: ['error', 'warn'] });
  configureApp(app);
  return app.init();
}

export type Agent = ReturnType<typeof request>;

export function api(app: NestExpressApplication): Agent {
  return request(app.getHttpServer());
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
