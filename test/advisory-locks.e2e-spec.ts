import { DataSource } from 'typeorm';
import { AdvisoryLock, whileHolding } from '../src/database/advisory-locks';
import { dataSourceOptions } from '../src/database/data-source-options';
import { TEST_DATABASE_URL_VARIABLE } from './setup/test-env';

/*
 * The reconcilers and the upload verifier run one pass at a time for the whole cluster (issue 21):
 * each pass holds a session advisory lock, which another node's pass finds taken and skips, and
 * which a node that dies mid-pass gives up with its connection. Two DataSources are two nodes.
 */
describe('one pass at a time, cluster-wide (whileHolding)', () => {
  let nodes: DataSource[];

  beforeAll(async () => {
    const url = process.env[TEST_DATABASE_URL_VARIABLE]!;
    nodes = await Promise.all([0, 1].map(() => new DataSource(dataSourceOptions(url, 3)).initialize()));
  });

  afterAll(async () => {
    await Promise.all(nodes.map((node) => (node.isInitialized ? node.destroy() : undefined)));
  });

  /** Starts a pass on `node` that holds the lock until `release` is called; resolves once it holds it. */
  async function holdingPass(node: DataSource, lock: AdvisoryLock) {
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const pass = whileHolding(node, lock, async () => {
      entered();
      await released;
      return 'first';
    });
    await Promise.race([inside, pass]);
    return { pass, release };
  }

  it("skips another node's pass at once while one runs, and runs it once that one has ended", async () => {
    const [a, b] = nodes;
    const first = await holdingPass(a, AdvisoryLock.JobReconciler);
    const started = Date.now();
    expect(await whileHolding(b, AdvisoryLock.JobReconciler, async () => 'second')).toBeNull();
    expect(Date.now() - started).toBeLessThan(5_000);
    // Another lock is another pass: the webhook reconciler is not held up by the job reconciler.
    expect(await whileHolding(b, AdvisoryLock.WebhookReconciler, async () => 'webhooks')).toBe('webhooks');
    first.release();
    expect(await first.pass).toBe('first');
    expect(await whileHolding(b, AdvisoryLock.JobReconciler, async () => 'second')).toBe('second');
  });

  it('frees the lock when the node holding it dies mid-pass (its connection ends)', async () => {
    const [a, b] = nodes;
    const first = await holdingPass(a, AdvisoryLock.ImageVerifier);
    const outcome = first.pass.catch((error: Error) => error);
    expect(await whileHolding(b, AdvisoryLock.ImageVerifier, async () => 'second')).toBeNull();
    const [{ ended }] = await b.query(
      `SELECT count(pg_terminate_backend(pid))::int AS ended FROM pg_locks
       WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [AdvisoryLock.ImageVerifier],
    );
    expect(ended).toBe(1);
    // pg_terminate_backend only signals: the backend frees its locks as it exits, a moment later.
    let second: string | null = null;
    for (const deadline = Date.now() + 5_000; second === null && Date.now() < deadline;) {
      second = await whileHolding(b, AdvisoryLock.ImageVerifier, async () => 'second');
      if (second === null) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(second).toBe('second');
    first.release();
    await outcome;
  });
});
