import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { runMigrations as runQueueMigrations } from 'bullmq';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from '../config/app-config';
import { syncOperationCatalog } from '../job-types/operation-catalog';
import { dataSourceOptions } from './data-source-options';
import { openDatabase } from './database';
import { AdvisoryLock } from './advisory-locks';

const logger = new Logger('Migrations');

/**
 * Applies pending migrations, then records the registered operations as job and image types.
 * Several API and worker processes may start at once, so they take turns under a PostgreSQL
 * advisory lock and only the first one finds anything to do.
 */
export async function runMigrations(url: string, options: { queueOnPostgres: boolean }): Promise<string[]> {
  if (options.queueOnPostgres) await migrateQueueSchema(url);
  const dataSource = await new DataSource(dataSourceOptions(url)).initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.Migrations]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length) {
      const names = applied.map((migration) => migration.name.replace(/\d{13}$/, ''));
      logger.log(`Migrated the database: ${names.join(', ')} (${applied.length} migration${applied.length > 1 ? 's' : ''})`);
    }
    await syncOperationCatalog(dataSource);
    return applied.map((migration) => migration.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [AdvisoryLock.Migrations]).catch(() => undefined);
    await lock.release();
    await dataSource.destroy();
  }
}

/** BullMQ's PostgreSQL backend keeps its tables in its own `bullmq` schema, migrated by BullMQ. */
async function migrateQueueSchema(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  // A connection lost mid-query rejects that query; between queries, the client only emits this.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await runQueueMigrations(client);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const applied = await runMigrations(database.url, { queueOnPostgres: !config.REDIS_URL });
    if (!applied.length) logger.log('The schema is up to date');
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  main().catch((error) => {
    logger.error(error instanceof ConfigError ? error.message : (error as Error).stack);
    process.exit(1);
  });
}
