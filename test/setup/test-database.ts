import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { copyDatabase, dropDatabase, ensureDatabase, withDatabase } from '../../src/database/database-admin';
import { EmbeddedDatabase, startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runMigrations } from '../../src/database/migrate';
import { freePort } from '../../src/common/free-port';

/** PostgreSQL truncates longer names, so a longer one would create a database no URL names. */
const MAX_NAME_LENGTH = 63;

export interface TestTemplate {
  url: string;
  destroy(): Promise<void>;
}

export interface TestDatabase {
  url: string;
  /** Drops this database and every copy made for it (`<its name>_<anything>`). */
  drop(): Promise<void>;
}

const TEST_SERVER_MAX_CONNECTIONS = 200;

/**
 * The run's migrated template database: on the server of DATABASE_URL when it is set, otherwise on
 * a throw-away embedded PostgreSQL, as `npm start` would use. Destroying it drops every database
 * of the run, the suites' copies included, and stops the embedded server.
 */
export async function createTestTemplate(): Promise<TestTemplate> {
  const run = `darkroom_${Date.now().toString(36)}_${process.pid.toString(36)}`;
  let serverUrl: string;
  let embedded: EmbeddedDatabase | undefined;
  let scratch: string | undefined;
  if (process.env.DATABASE_URL) {
    serverUrl = process.env.DATABASE_URL;
  } else {
    scratch = await mkdtemp(join(tmpdir(), 'darkroom-test-'));
    await chmod(scratch, 0o755);
    // Two suites at a time start many product processes, each with its pools: on a server of 100
    // connections they have run out at their peaks. The machine's own server keeps its 100, so a
    // pass there still shows that the suites fit the default.
    embedded = await startEmbeddedPostgres({
      dir: join(scratch, 'postgres'),
      port: await freePort(),
      ephemeral: true,
      maxConnections: TEST_SERVER_MAX_CONNECTIONS,
    });
    serverUrl = embedded.serverUrl('postgres');
  }
  const template = `${run}_template`;
  await ensureDatabase(serverUrl, template);
  const url = withDatabase(serverUrl, template);
  await runMigrations(url, { queueOnPostgres: true });
  return {
    url,
    async destroy() {
      try {
        await dropDatabasesOf(serverUrl, `${run}_`);
      } finally {
        await embedded?.stop();
        if (scratch) await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A migrated database copied from the run's template, named `<prefix>_<suffix>` (a random suffix
 * when none is given). The copy is an installation of its own, as a newly migrated database is:
 * it draws its own installation id (its namespace on Redis) and its own event-token secret.
 */
export async function copyTemplate(templateUrl: string, prefix?: string, suffix = randomBytes(3).toString('hex')): Promise<TestDatabase> {
  const template = decodeURIComponent(new URL(templateUrl).pathname.slice(1));
  const name = `${prefix ?? template.replace(/_template$/, '')}_${suffix}`;
  if (name.length > MAX_NAME_LENGTH) {
    throw new Error(`Database name ${name} is longer than PostgreSQL's ${MAX_NAME_LENGTH} characters: choose a shorter name`);
  }
  const serverUrl = withDatabase(templateUrl, 'postgres');
  await copyDatabase(serverUrl, name, template);
  const url = withDatabase(templateUrl, name);
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    // The same draws as the migrations that made these rows (JobLifecycle, JobEvents).
    await client.query(`UPDATE installation SET id = left(replace(gen_random_uuid()::text, '-', ''), 16)`);
    await client.query(`UPDATE job_events_secret SET secret = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')`);
  } finally {
    await client.end();
  }
  return {
    url,
    async drop() {
      await dropDatabase(serverUrl, name);
      await dropDatabasesOf(serverUrl, `${name}_`);
    },
  };
}

/** Drops every database whose name starts with `prefix`, connections and all. */
async function dropDatabasesOf(serverUrl: string, prefix: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  client.on('error', () => undefined);
  await client.connect();
  let names: string[];
  try {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
    names = rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
  for (const name of names) await dropDatabase(serverUrl, name);
}
