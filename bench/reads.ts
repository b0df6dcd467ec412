import autocannon from 'autocannon';
import { Client } from 'pg';
import { api, childPid, processCpuSeconds, startProduct, treeCpuSeconds } from './bench-support';

/**
 * `npm run bench:read`: the fixed cost of one read, `GET /api/images/:id.json` (a histogram image,
 * bins included) with a bearer token, on the API alone (`--api-only`, embedded PostgreSQL unless
 * DATABASE_URL is set; rate limits as by default, the session cache on).
 *
 * Seeds BENCH_ROWS (10,000) histogram images of the reading user, warms up for 3 s, then runs
 * autocannon with 16 connections for BENCH_SECONDS (10) BENCH_RUNS (3) times. Each run prints
 * req/s, p50/p99 latency, and the CPU a request of the API process alone and of the embedded
 * PostgreSQL (from /proc): on a machine others share, CPU a request is the figure that stays
 * meaningful. BENCH_API_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to the API's
 * node; the profile is written when the product stops.
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const CONNECTIONS = 16;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WARM_UP_SECONDS = 3;

async function seed(db: Client, readerId: number): Promise<number> {
  const { rows } = await db.query(
    `WITH made AS (
       INSERT INTO images (status, user_id, image_type_id, width, height, format, bytes, s3_key, sha256, created_at, updated_at)
       SELECT 'processed', $1, (SELECT id FROM image_types WHERE type_name = 'histogram'),
              256, 200, 'png', 4096, 'outputs/bench/' || g || '.png', md5(g::text) || md5(g::text),
              now() - make_interval(secs => $2 - g), now() - make_interval(secs => $2 - g)
         FROM generate_series(1, $2) g
       RETURNING id),
     binned AS (
       INSERT INTO histograms (image_id, bins)
       SELECT id, ARRAY(SELECT (random() * 4000)::int + (id * 0) FROM generate_series(1, 256)) FROM made
       RETURNING image_id)
     SELECT max(image_id) AS id FROM binned`,
    [readerId, ROWS],
  );
  await db.query('VACUUM ANALYZE images, histograms');
  return rows[0].id;
}

async function main(): Promise<void> {
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const product = await startProduct({}, ['--api-only'], nodeArgs);
  const db = new Client({ connectionString: product.databaseUrl });
  await db.connect();
  try {
    const username = `reader${Date.now()}`;
    const reader = await api(product.url, '', '/api/users.json', {
      method: 'POST',
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'bench-password' }),
    });
    const imageId = await seed(db, reader.id);
    const path = `/api/images/${imageId}.json`;
    const options = {
      url: `${product.url}${path}`,
      connections: CONNECTIONS,
      headers: { Authorization: `Bearer ${reader.authentication_token}` },
    };
    await autocannon({ ...options, duration: WARM_UP_SECONDS });
    const postgresPid = childPid(product.pid, 'bin/postgres');
    const postgresCpu = () => (postgresPid === null ? 0 : treeCpuSeconds(postgresPid));
    for (let run = 1; run <= RUNS; run++) {
      const apiBefore = processCpuSeconds(product.pid);
      const postgresBefore = postgresCpu();
      const result = await autocannon({ ...options, duration: SECONDS });
      const apiMs = ((processCpuSeconds(product.pid) - apiBefore) * 1000) / result.requests.total;
      const postgresMs = ((postgresCpu() - postgresBefore) * 1000) / result.requests.total;
      const failed = result.non2xx + result.errors + result.timeouts;
      console.log(
        `GET ${path}  ${CONNECTIONS} connections ${SECONDS} s  ${Math.round(result.requests.average).toLocaleString('en').padStart(6)} req/s` +
          `  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms  API ${apiMs.toFixed(3)} ms CPU a request` +
          `  PostgreSQL ${postgresPid === null ? 'n/a (external)' : `${postgresMs.toFixed(3)} ms`}${failed ? `  (${failed} failed)` : ''}`,
      );
    }
  } finally {
    await db.end();
    await product.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
