import { extname, join } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations';
import { SnakeNamingStrategy } from './snake-naming.strategy';

/**
 * Every `*.entity` file under src/ (dist/src/ once built): TypeORM loads them itself, so this folder
 * names no resource's folder and each resource may use the database helpers here without a cycle.
 * The extension is this file's own, so tests (TypeScript) and the built processes find theirs.
 */
const ENTITIES = join(__dirname, '..', '**', `*.entity${extname(__filename)}`);

/** `poolSize`: DATABASE_POOL_SIZE for the long-lived processes; one-off commands keep the default. */
export function dataSourceOptions(url: string, poolSize = 20): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [ENTITIES],
    migrations,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    // Generated uuids use PostgreSQL's own gen_random_uuid(); migrations, not TypeORM, manage extensions.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    extra: { max: poolSize },
  };
}
