import { join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { ensureDatabase } from './database-admin';
import { startEmbeddedPostgres } from './embedded-postgres';

export interface DatabaseConnection {
  url: string;
  /** Stops the embedded server, if one was started: call it once every pool on it is closed. */
  close(): Promise<void>;
}

const EMBEDDED_DATABASE = 'darkroom';

/** The configured PostgreSQL, or with no DATABASE_URL, an embedded one kept under DATA_DIR. */
export async function openDatabase(config: AppConfig): Promise<DatabaseConnection> {
  if (config.DATABASE_URL) {
    return { url: config.DATABASE_URL, close: async () => undefined };
  }
  const server = await startEmbeddedPostgres({
    dir: join(config.DATA_DIR, 'postgres'),
    port: config.EMBEDDED_PG_PORT,
  });
  try {
    await ensureDatabase(server.serverUrl('postgres'), EMBEDDED_DATABASE);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url: server.serverUrl(EMBEDDED_DATABASE), close: () => server.stop() };
}
