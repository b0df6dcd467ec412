import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { TEST_DATABASE_URL_VARIABLE } from './setup/test-env';

describe('schema', () => {
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await new DataSource(dataSourceOptions(process.env[TEST_DATABASE_URL_VARIABLE]!)).initialize();
  });

  afterAll(() => dataSource.destroy());

  it('is what the entities describe: a migration generated against it would be empty', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((query) => query.query)).toEqual([]);
  });

  it('has every migration applied', async () => {
    expect(await dataSource.showMigrations()).toBe(false);
  });

  it('keeps job_type as a text[] array column', async () => {
    const [column] = await dataSource.query(
      "SELECT data_type, udt_name FROM information_schema.columns WHERE table_name = 'jobs' AND column_name = 'job_type'",
    );
    expect(column).toEqual({ data_type: 'ARRAY', udt_name: '_text' });
  });
});
