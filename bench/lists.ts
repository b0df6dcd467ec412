import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Client } from 'pg';
import { api, startProduct } from './bench-support';

/**
 * `npm run bench:lists`: reads and lists on a seeded database.
 *
 * 1. Seeds BENCH_ROWS (1,000,000) histogram images with their histograms through the product's
 *    own tables (server-side INSERT … SELECT, spread over 1,000 users and the reading user),
 *    created one second apart, as uploads over days would be.
 * 2. `GET /api/images.json?n=all` as the admin, without and with `include=histogram`: time to the
 *    first byte, total time, bytes, and the growth of the API process's resident memory
 *    (sampled every 20 ms from /proc) over what it was before the request.
 * 3. autocannon, 16 connections for 10 s each, with the reading user's token:
 *    `GET /api/images/:id.json` (one of their histogram images, bins included) and
 *    `GET /api/images.json?n=20` (their newest 20).
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const USERS = 1000;
const CHUNK = 100_000;
const CONNECTIONS = 16;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

async function seed(db: Client, readerId: number): Promise<void> {
  await db.query(
    `INSERT INTO users (username, email, encrypted_password)
     SELECT 'bench' || g, 'bench' || g || '@example.com', 'not-a-password-hash' FROM generate_series(1, $1) g`,
    [USERS],
  );
  for (let have = 0; have < ROWS; have += CHUNK) {
    const rows = Math.min(CHUNK, ROWS - have);
    await db.query(
      `WITH owners AS (SELECT array_agg(id) AS ids FROM users WHERE username LIKE 'bench%' OR id = $4),
            made AS (
              INSERT INTO images (status, user_id, image_type_id, width, height, format, bytes, s3_key, sha256, created_at, updated_at)
              SELECT 'processed', ids[1 + (g % cardinality(ids))], (SELECT id FROM image_types WHERE type_name = 'histogram'),
                     256, 200, 'png', 4096, 'outputs/bench/' || g || '.png', md5(g::text) || md5(g::text),
                     now() - make_interval(secs => $3 - g), now() - make_interval(secs => $3 - g)
                FROM owners, generate_series($1 + 1, $1 + $2) g
              RETURNING id)
       INSERT INTO histograms (image_id, bins)
       SELECT id, ARRAY(SELECT (random() * 4000)::int + (id * 0) FROM generate_series(1, 256)) FROM made`,
      [have, rows, ROWS, readerId],
    );
  }
  await db.query('VACUUM ANALYZE images, histograms');
  await db.query('CHECKPOINT');
}

function residentMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

interface StreamedList {
  status: number;
  firstByteMs: number;
  totalMs: number;
  bytes: number;
  rssGrowthMb: number;
  complete: boolean;
}

/** One GET read to its end and thrown away, with the API process's memory sampled meanwhile. */
function timeList(url: string, token: string, apiPid: number): Promise<StreamedList> {
  const before = residentMb(apiPid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, residentMb(apiPid))), 20);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Authorization: `Bearer ${token}` } }, (response) => {
      let firstByteMs = 0;
      let bytes = 0;
      let head = '';
      let tail = '';
      response.on('data', (chunk: Buffer) => {
        if (bytes === 0) {
          firstByteMs = performance.now() - started;
          head = chunk.subarray(0, 1).toString();
        }
        bytes += chunk.length;
        tail = chunk.subarray(chunk.length - 1).toString();
      });
      response.on('end', () => {
        clearInterval(sampler);
        peak = Math.max(peak, residentMb(apiPid));
        resolve({
          status: response.statusCode ?? 0,
          firstByteMs,
          totalMs: performance.now() - started,
          bytes,
          rssGrowthMb: peak - before,
          complete: head === '[' && tail === ']',
        });
      });
      response.on('error', reject);
    });
    req.on('error', (error) => {
      clearInterval(sampler);
      reject(error);
    });
    req.end();
  });
}

async function load(url: string, token: string): Promise<string> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers: { Authorization: `Bearer ${token}` } });
  const failed = result.non2xx + result.errors + result.timeouts;
  return `${Math.round(result.requests.average).toLocaleString('en').padStart(7)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms${failed ? `  (${failed} failed)` : ''}`;
}

async function main(): Promise<void> {
  const product = await startProduct({ AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0' });
  const db = new Client({ connectionString: product.databaseUrl });
  await db.connect();
  try {
    const username = `reader${Date.now()}`;
    const reader = await api(product.url, '', '/api/users.json', {
      method: 'POST',
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'bench-password' }),
    });
    const seeding = performance.now();
    await seed(db, reader.id);
    console.log(`Seeded ${ROWS.toLocaleString('en')} images with histograms in ${((performance.now() - seeding) / 1000).toFixed(0)} s`);
    const [{ id: imageId }] = (await db.query('SELECT max(id) AS id FROM images WHERE user_id = $1', [reader.id])).rows;

    const lines: string[] = [];
    for (const query of ['n=all', 'n=all&include=histogram']) {
      const list = await timeList(`${product.url}/api/images.json?${query}`, product.adminToken, product.pid);
      const label = `GET /api/images.json?${query}`.padEnd(46);
      if (list.status !== 200 || !list.complete) {
        lines.push(`${label} answered ${list.status}${list.complete ? '' : ', not a complete array'}`);
        console.log(lines[lines.length - 1]);
        continue;
      }
      lines.push(
        `${label} first byte ${list.firstByteMs.toFixed(0).padStart(6)} ms  total ${(list.totalMs / 1000).toFixed(1).padStart(6)} s  ${(list.bytes / 1e6).toFixed(0).padStart(5)} MB  API RSS growth ${list.rssGrowthMb.toFixed(0).padStart(5)} MB`,
      );
      console.log(lines[lines.length - 1]);
    }
    for (const path of [`/api/images/${imageId}.json`, '/api/images.json?n=20']) {
      lines.push(`${`GET ${path}`.padEnd(46)} ${await load(`${product.url}${path}`, reader.authentication_token)}`);
      console.log(lines[lines.length - 1]);
    }
    console.log(
      `\n${ROWS.toLocaleString('en')} images with histograms; reads by a user owning ${Math.round(ROWS / (USERS + 1)).toLocaleString('en')}, ${CONNECTIONS} connections for ${SECONDS} s\n${lines.join('\n')}`,
    );
  } finally {
    await db.end();
    await product.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
