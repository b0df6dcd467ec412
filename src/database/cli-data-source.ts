import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';

/** Data source for the TypeORM CLI (`npm run migration:generate`), which needs DATABASE_URL. */
const config = loadConfig();
if (!config.DATABASE_URL) {
  throw new Error('The TypeORM CLI needs DATABASE_URL pointing at a migrated database.');
}

export default new DataSource(dataSourceOptions(config.DATABASE_URL));
