import { callsBy, JOB_SEQUENCE, makePhotos, measureJobCost, PhaseFigures, startRedis, Statement, totalCalls } from './bench-support';

/**
 * `npm run bench:statements`: the fixed cost of an upload + job in statements, transactions and
 * Redis commands, counted on the embedded PostgreSQL with `pg_stat_statements` (nested statements
 * included: triggers, functions, foreign-key checks; BEGIN and COMMIT too), on both queue backends.
 *
 * For each backend, JOBS different photographs (so that every job is computed, none reused) go
 * through two phases measured apart (`measureJobCost`): (1) the API alone (`--api-only`) takes
 * JOBS uploads and JOBS jobs ["process", "grayscale", "histogram"]; (2) a worker alone drains
 * them, its start-up included. The queue on Redis uses a private redis-server on a free port, so
 * that `INFO commandstats` counts this run's commands only.
 */
const JOBS = Number(process.env.BENCH_JOBS ?? 100);
const SIZE = Number(process.env.BENCH_SIZE ?? 512);
/** Which queue backends to measure: `postgresql`, `redis` or both. */
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'postgresql,redis').toLowerCase().split(',');
const LEDGER_WIDTH = 110;
const STARTUP_LINES = 10;
const SETTINGS = { AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0', LOG_LEVEL: 'warn' };

const perJob = (calls: number) => (calls / JOBS).toFixed(2);
const oneLine = (query: string) => query.replace(/\s+/g, ' ').trim().slice(0, LEDGER_WIDTH);

/** One line a statement, by calls; `divisor` turns calls into the figure shown (per job, or 1 for raw calls). */
function printLedger(statements: Statement[], divisor: number, limit = Infinity): void {
  // Statements of the same text at the same level are one line (queryid differs with the role).
  const lines = new Map<string, Statement>();
  for (const statement of statements) {
    const key = `${statement.process}\t${statement.toplevel}\t${oneLine(statement.query)}`;
    const line = lines.get(key);
    if (line) {
      line.meanMs = (line.meanMs * line.calls + statement.meanMs * statement.calls) / (line.calls + statement.calls);
      line.calls += statement.calls;
    } else lines.set(key, { ...statement, query: oneLine(statement.query) });
  }
  console.log(`${(divisor === 1 ? 'calls' : 'calls/job').padStart(9)} ${'mean ms'.padStart(8)}  process  level   statement`);
  for (const line of [...lines.values()].sort((a, b) => b.calls - a.calls).slice(0, limit)) {
    console.log(
      `${(line.calls / divisor).toFixed(divisor === 1 ? 0 : 2).padStart(9)} ${line.meanMs.toFixed(3).padStart(8)}  ${line.process.padEnd(7)}  ${(line.toplevel ? 'top' : 'nested').padEnd(6)}  ${line.query}`,
    );
  }
}

function printPhase(phase: PhaseFigures): void {
  console.log(`\n${phase.name}`);
  printLedger(phase.statements, JOBS);
  for (const process of ['api', 'worker'] as const) {
    const mine = phase.statements.filter((s) => s.process === process);
    if (mine.length === 0) continue;
    const top = mine.filter((s) => s.toplevel).reduce((sum, s) => sum + s.calls, 0);
    console.log(
      `${process}: ${perJob(callsBy(mine, process))} statements per upload + job (${perJob(top)} sent by the process, the rest nested)`,
    );
  }
  if (phase.startup) {
    console.log(
      `of which the worker's start-up, up to its first claim: ${totalCalls(phase.startup)} statements in all; the most frequent:`,
    );
    printLedger(phase.startup, 1, STARTUP_LINES);
  }
  if (phase.note) console.log(phase.note);
  console.log(
    `transactions per upload + job: ${perJob(phase.transactions.committed + phase.transactions.rolledBack)} ` +
      `(${perJob(phase.transactions.rolledBack)} rolled back; the database's, the bench's own taken out, ` +
      'each LISTENing connection woken by a NOTIFY counted too)',
  );
  if (phase.redis) {
    const total = [...phase.redis.values()].reduce((sum, calls) => sum + calls, 0);
    const commands = [...phase.redis.entries()].sort((a, b) => b[1] - a[1]).map(([name, calls]) => `${name} ${perJob(calls)}`);
    console.log(`Redis commands per job: ${perJob(total)} (${commands.join(', ')})`);
  }
  console.log(
    `CPU per upload + job: ${Object.entries(phase.cpu)
      .map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`)
      .join(', ')}`,
  );
}

function printTotals(backend: string, phases: PhaseFigures[]): void {
  const all = phases.flatMap((phase) => phase.statements);
  const top = all.filter((s) => s.toplevel).reduce((sum, s) => sum + s.calls, 0);
  const total = all.reduce((sum, s) => sum + s.calls, 0);
  const transactions = phases.reduce((sum, phase) => sum + phase.transactions.committed + phase.transactions.rolledBack, 0);
  console.log(`\n${backend}: statements per upload + job, all processes: ${perJob(total)} (target ≤ 15 on Redis / ≤ 40 on PostgreSQL)`);
  console.log(
    `${backend}:   of which sent by a process (round trips): ${perJob(top)}; transactions per upload + job: ${perJob(transactions)}`,
  );
  if (phases.every((phase) => phase.redis)) {
    const redis = phases.reduce((sum, phase) => sum + [...phase.redis!.values()].reduce((a, b) => a + b, 0), 0);
    console.log(`${backend}:   Redis commands per job, all processes: ${perJob(redis)}`);
  }
  const postgres = phases.reduce((sum, phase) => sum + phase.cpu.postgres, 0);
  console.log(`${backend}:   PostgreSQL CPU per upload + job: ${postgres.toFixed(1)} ms`);
}

async function main(): Promise<void> {
  // Both backends are chosen here: the shell's own database and queue would bypass the embedded server and the private Redis.
  delete process.env.DATABASE_URL;
  delete process.env.REDIS_URL;
  const photos = await makePhotos(JOBS, SIZE, SIZE);
  console.log(`${JOBS} different ${SIZE}×${SIZE} JPEG photographs, each uploaded then processed by ${JSON.stringify(JOB_SEQUENCE)}`);
  const results: [string, PhaseFigures[]][] = [];
  if (BACKENDS.includes('postgresql')) results.push(['PostgreSQL', await measureJobCost('PostgreSQL', null, photos, SETTINGS)]);
  const redis = BACKENDS.includes('redis') ? await startRedis() : null;
  if (redis) {
    try {
      results.push(['Redis', await measureJobCost('Redis', redis.url, photos, SETTINGS)]);
    } finally {
      await redis.stop();
    }
  } else if (BACKENDS.includes('redis')) {
    console.log('\nNo redis-server on this machine: the queue on Redis is not measured (install redis-server to measure it).');
  }
  for (const [backend, phases] of results) {
    console.log(`\n===== queue on ${backend} =====`);
    for (const phase of phases) printPhase(phase);
    printTotals(backend, phases);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
