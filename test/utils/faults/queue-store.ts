import Redis from 'ioredis';
import type { Pool } from 'pg';
import { sleep } from './processes';

/**
 * The id the migration gives each database, which namespaces its queue entries on a shared Redis
 * (the `installation` table's one row). Found by name rather than assumed, so that a renamed
 * column still leads here with a clear message.
 */
export async function readInstallationId(pool: Pool): Promise<string> {
  const { rows: tables } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name ILIKE '%installation%' ORDER BY table_name`,
  );
  for (const { table_name: table } of tables) {
    const { rows } = await pool.query(`SELECT * FROM "${table.replace(/"/g, '""')}" LIMIT 2`);
    if (rows.length !== 1) continue;
    const row = rows[0] as Record<string, unknown>;
    const column =
      ['id', 'installation_id', 'value'].find((name) => typeof row[name] === 'string') ??
      Object.keys(row).find((name) => typeof row[name] === 'string');
    if (column) return String(row[column]);
  }
  throw new Error(
    `No installation id in this database (looked for a one-row table named like "installation"; found: ${tables.map((t) => t.table_name).join(', ') || 'none'})`,
  );
}

/** ioredis client for the test's own commands; errors while Redis is busy are the caller's. */
function redisClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true });
  client.on('error', () => undefined);
  return client;
}

export async function redisKeysOf(redisUrl: string, installationId: string): Promise<string[]> {
  const client = redisClient(redisUrl);
  try {
    await client.connect();
    return await scan(client, `*${installationId}*`);
  } finally {
    client.disconnect();
  }
}

async function scan(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/**
 * Deletes every Redis key of one installation (its queues, jobs, locks, events), leaving other
 * databases' keys on the shared Redis alone: never FLUSHDB. Returns how many keys went.
 */
export async function deleteInstallationKeys(redisUrl: string, installationId: string): Promise<number> {
  if (installationId.length < 8) throw new Error(`Installation id "${installationId}" is too short to match keys safely`);
  const client = redisClient(redisUrl);
  try {
    await client.connect();
    let deleted = 0;
    // Two passes: keys a worker writes while the first pass runs are caught by the second.
    for (let pass = 0; pass < 2; pass++) {
      const keys = await scan(client, `*${installationId}*`);
      for (let i = 0; i < keys.length; i += 500) deleted += await client.unlink(...keys.slice(i, i + 500));
    }
    return deleted;
  } finally {
    client.disconnect();
  }
}

/** BullMQ's own bookkeeping, kept: the migration ledger and its (unrelated) relay tables. */
const KEPT_BULLMQ_TABLES = /^(migration|relay_.*)$/;

/**
 * Empties the PostgreSQL backend's queue store: every table of the `bullmq` schema but the
 * migration ledger (jobs, logs, dependencies, dedup keys, events, meta, metrics, schedulers),
 * the equivalent of deleting the installation's keys on Redis. Returns the tables emptied.
 */
/** lock_not_available (lock_timeout) and deadlock_detected. */
const RETRIED_LOCK_ERRORS = ['55P03', '40P01'];

export async function truncateQueueTables(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'bullmq' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const tables = rows.map((row) => row.table_name).filter((name) => !KEPT_BULLMQ_TABLES.test(name));
  if (!tables.includes('job'))
    throw new Error(`No bullmq.job table in this database (bullmq tables: ${rows.map((r) => r.table_name).join(', ')})`);
  const statement = `TRUNCATE ${tables.map((name) => `bullmq."${name}"`).join(', ')}`;
  // TRUNCATE takes the tables' exclusive locks one after another, while workers take theirs in
  // their own order: it may time out waiting, or be chosen as a deadlock's victim. Both are retried.
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query(`SET lock_timeout = '3s'`);
      await client.query(statement);
      return tables;
    } catch (error) {
      if (attempt >= 10 || !RETRIED_LOCK_ERRORS.includes((error as { code?: string }).code ?? '')) throw error;
    } finally {
      await client.query('RESET lock_timeout').catch(() => undefined);
      client.release();
    }
    await sleep(100);
  }
}
