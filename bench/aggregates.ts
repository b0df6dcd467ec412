import { Client } from 'pg';
import { api, childPid, peakMemoryOfChild, startProduct } from './bench-support';

/**
 * `npm run bench`: seeds N synthetic histograms through the product's own tables (server-side
 * bulk INSERT … SELECT; the same triggers pack them and keep the counters), then times a median
 * and a K=10 search end to end — POST /api/jobs.json to `completed` — through the queue. Last,
 * it kills the worker and times a median posted at once, which the restarted worker can answer
 * only after reading every histogram from the database into its copy.
 */
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const USERS = 1000;
const CHUNK = 100_000;

async function seedUsers(db: Client): Promise<void> {
  await db.query(
    `INSERT INTO users (username, email, encrypted_password)
     SELECT 'bench' || g, 'bench' || g || '@example.com', 'not-a-password-hash'
       FROM generate_series(1, $1) g`,
    [USERS],
  );
}

/** Grows the histograms table to `total` rows, spread over the synthetic users. */
async function seedHistograms(db: Client, total: number): Promise<void> {
  const [{ count }] = (await db.query('SELECT count(*)::int AS count FROM histograms')).rows;
  for (let have = count; have < total; have += CHUNK) {
    const rows = Math.min(CHUNK, total - have);
    await db.query(
      `WITH owners AS (SELECT array_agg(id) AS ids FROM users WHERE username LIKE 'bench%'),
            made AS (
              INSERT INTO images (status, user_id, image_type_id, width, height, format)
              SELECT 'processed', ids[1 + (g % cardinality(ids))], (SELECT id FROM image_types WHERE type_name = 'histogram'), 64, 64, 'png'
                FROM owners, generate_series(1, $1) g
              RETURNING id)
       INSERT INTO histograms (image_id, bins)
       SELECT id, ARRAY(SELECT (random() * 4000)::int + (id * 0) FROM generate_series(1, 256)) FROM made`,
      [rows],
    );
  }
}

async function timeJob(url: string, token: string, body: object): Promise<{ seconds: number; count: number }> {
  const started = performance.now();
  const job = await api(url, token, '/api/jobs.json', { method: 'POST', body: JSON.stringify(body) });
  for (;;) {
    const current = await api(url, token, `/api/jobs/${job.id}.json`);
    if (current.status === 'failed') throw new Error(`Job ${job.id} failed: ${current.error}`);
    if (current.status === 'completed') return { seconds: (performance.now() - started) / 1000, count: current.result.count };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function main(): Promise<void> {
  const product = await startProduct();
  const db = new Client({ connectionString: product.databaseUrl });
  await db.connect();
  try {
    const username = `asker${Date.now()}`;
    const asker = await api(product.url, '', '/api/users.json', {
      method: 'POST',
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'bench-password' }),
    });
    const [{ id: targetId }] = (
      await db.query(
        `WITH made AS (INSERT INTO images (status, user_id, image_type_id) VALUES ('processed', $1, (SELECT id FROM image_types WHERE type_name = 'histogram')) RETURNING id)
         INSERT INTO histograms (image_id, bins) SELECT id, ARRAY(SELECT (random() * 4000)::int FROM generate_series(1, 256)) FROM made RETURNING image_id AS id`,
        [asker.id],
      )
    ).rows;
    await seedUsers(db);
    const lines: string[] = [];
    for (const size of SIZES) {
      const seeding = performance.now();
      await seedHistograms(db, size);
      // Timed jobs should not race the server writing out what seeding left in memory.
      await db.query('VACUUM ANALYZE images, histograms');
      await db.query('CHECKPOINT');
      const seeded = (performance.now() - seeding) / 1000;
      // Each job runs twice: the first after seeding, the second as a server in use would run it.
      const median = { job_sequence: ['query', 'histogram', 'median'], params: { n: 'all', image_type: 'histogram' } };
      const search = { job_sequence: ['search', 'histogram', 'nearest_neighbor'], params: { target: targetId, k: 10 } };
      for (const [name, body] of [
        ['median', median],
        ['search K=10', search],
        ['median again', median],
        ['search again', search],
        ['median, worker restarted', median],
      ] as const) {
        if (name.includes('restarted')) process.kill(childPid(product.pid, 'worker.main.js')!, 'SIGKILL');
        const { seconds, count } = await timeJob(product.url, asker.authentication_token, body);
        const memory = peakMemoryOfChild(product.pid, 'worker.main.js');
        lines.push(
          `${String(count).padStart(9)}  ${name.padEnd(24)} ${seconds.toFixed(2).padStart(7)} s ${Math.round(count / seconds)
            .toLocaleString('en')
            .padStart(12)} /s ${memory ? memory.toFixed(0).padStart(6) : '     ?'} MB   (seeded in ${seeded.toFixed(0)} s)`,
        );
        console.log(lines[lines.length - 1]);
      }
    }
    console.log(`\n        N  job                       seconds   histograms/s  worker peak RSS\n${lines.join('\n')}`);
  } finally {
    await db.end();
    await product.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
