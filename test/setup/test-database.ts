import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase, ensureDatabase, withDatabase } from '../../src/database/database-admin';
import { EmbeddedDatabase, startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runMigrations } from '../../src/database/migrate';
import { freePort } from '../../src/common/free-port';

export interface TestDatabase {
  url: string;
  destroy(): Promise<void>;
}

/**
 * A fresh, migrated database for one test run: on the server of DATABASE_URL when it is set,
 * otherwise on a throw-away embedded PostgreSQL, as `npm start` would use.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `darkroom_test_${Date.now()}_${process.pid}`;
  let serverUrl: string;
  let embedded: EmbeddedDatabase | undefined;
  let scratch: string | undefined;
  if (process.env.DATABASE_URL) {
    serverUrl = process.env.DATABASE_URL;
  } else {
    scratch = await mkdtemp(join(tmpdir(), 'darkroom-test-'));
    await chmod(scratch, 0o755);
    embedded = await startEmbeddedPostgres({ dir: join(scratch, 'postgres'), port: await freePort(), ephemeral: true });
    serverUrl = embedded.serverUrl('postgres');
  }
  await ensureDatabase(serverUrl, name);
  const url = withDatabase(serverUrl, name);
  await runMigrations(url, { queueOnPostgres: true });
  return {
    url,
    async destroy() {
      await dropDatabase(serverUrl, name);
      await embedded?.stop();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    },
  };
}
