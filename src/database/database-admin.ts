import { Client } from 'pg';

/** Creates `database` on the server of `serverUrl` unless it exists. */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  client.on('error', () => undefined); // a connection lost mid-query rejects that query
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  client.on('error', () => undefined); // a connection lost mid-query rejects that query
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * Creates `database` as a copy of `template`, which nothing may be connected to meanwhile: a copy
 * of a migrated database takes a fraction of the time its migrations would.
 */
export async function copyDatabase(serverUrl: string, database: string, template: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  client.on('error', () => undefined); // a connection lost mid-query rejects that query
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)} TEMPLATE ${client.escapeIdentifier(template)}`);
  } finally {
    await client.end();
  }
}
