import { Client } from 'pg';
import { PgListener } from '../src/database/pg-listener';
import { TEST_DATABASE_URL_VARIABLE } from './setup/test-env';

/** The reconnecting LISTEN shared by the job-stop, job-events and session-cache listeners. */
describe('PgListener', () => {
  const url = process.env[TEST_DATABASE_URL_VARIABLE]!;
  const channel = `test_listener_${process.pid}`;
  let db: Client;
  let listener: PgListener;
  const heard: (string | undefined)[] = [];
  const listening: boolean[] = [];

  beforeAll(async () => {
    db = new Client({ connectionString: url });
    await db.connect();
    listener = new PgListener({
      url,
      channel,
      description: 'test',
      onNotify: (payload) => heard.push(payload),
      onListening: (reconnected) => void listening.push(reconnected),
    });
    await listener.start();
  });

  afterAll(async () => {
    await listener?.close();
    await db?.end();
  });

  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`Still not so after 15 s: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('hands on the notices of its channel, and says when it starts listening', async () => {
    expect(listening).toEqual([false]);
    await db.query('SELECT pg_notify($1, $2)', [channel, 'one']);
    await db.query('SELECT pg_notify($1, $2)', ['some_other_channel', 'not this']);
    await db.query('SELECT pg_notify($1, $2)', [channel, 'two']);
    await until(() => heard.length >= 2, 'two notices heard');
    expect(heard).toEqual(['one', 'two']);
  });

  it('reconnects after losing its connection, says so, and hears notices again', async () => {
    const { rowCount } = await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
      [`LISTEN ${channel}`],
    );
    expect(rowCount).toBe(1);
    await until(() => listening.length === 2, 'listening again');
    expect(listening).toEqual([false, true]);
    await db.query('SELECT pg_notify($1, $2)', [channel, 'three']);
    await until(() => heard.includes('three'), 'a notice after the reconnection');
  });

  it('refuses to start when PostgreSQL cannot be reached', async () => {
    const unreachable = new PgListener({
      url: 'postgres://postgres@127.0.0.1:1/none',
      channel,
      description: 'test',
      onNotify: () => undefined,
    });
    await expect(unreachable.start()).rejects.toThrow();
    await unreachable.close();
  });
});
