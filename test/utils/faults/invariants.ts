import type { Pool } from 'pg';
import { pollUntil, sleep } from './processes';

export const FINAL_STATUSES = ['completed', 'failed', 'cancelled'] as const;

export interface Tally {
  submitted: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Not final when the bound ran out, or accepted (201) by the API and missing from the table. */
  lost: number;
  /** Extra outputs: a (job_id, step_index) pair with several images, or an output past the job's steps. */
  duplicated: number;
}

export interface InvariantReport {
  tally: Tally;
  /** Every broken invariant, one sentence each (lost and duplicated ones included). */
  violations: string[];
  /** Why each failed job failed, for the log. */
  failures: { id: number; error: string | null }[];
}

interface JobRow {
  id: number;
  status: string;
  error: string | null;
  job_type: string[];
  output_image_ids: number[];
  finished_at: Date | null;
  progress: number;
  attempts: number;
}

export async function statusCounts(pool: Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; count: string }>('SELECT status, count(*) FROM jobs GROUP BY status');
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}

export async function unfinishedJobs(pool: Pool): Promise<JobRow[]> {
  const { rows } = await pool.query<JobRow>(
    `SELECT id, status, error, job_type, output_image_ids, finished_at, progress, attempts FROM jobs
     WHERE status NOT IN ('completed', 'failed', 'cancelled') ORDER BY id`,
  );
  return rows;
}

/**
 * Waits until every job row is final (completed, failed or cancelled), up to `boundMs`; true when
 * they all are. Query errors (a restarting database) only delay the answer.
 */
export async function waitUntilAllFinal(pool: Pool, boundMs: number): Promise<boolean> {
  try {
    await pollUntil('every job to be final', async () => (await unfinishedJobs(pool)).length === 0, boundMs, 250);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `predicate` holds of the job row `id` (read straight from the database). */
export async function waitForJobRow(
  pool: Pool,
  id: number,
  what: string,
  predicate: (job: JobRow) => boolean,
  timeoutMs = 60_000,
): Promise<JobRow> {
  return pollUntil(
    `job ${id} to be ${what}`,
    async () => {
      const { rows } = await pool.query<JobRow>(
        'SELECT id, status, error, job_type, output_image_ids, finished_at, progress, attempts FROM jobs WHERE id = $1',
        [id],
      );
      return rows[0] && predicate(rows[0]) ? rows[0] : undefined;
    },
    timeoutMs,
    20,
  );
}

/**
 * Checks the suite's invariants on one database, whose jobs have had their time to finish:
 * - every job is final (else lost), and every job the API accepted still has its row (else lost);
 * - a failed job says why; a failed or cancelled job has a finished_at and no output newer than it;
 * - no step has two outputs, and no output lies past its job's steps (else duplicated);
 * - a completed process job has exactly one output per step, listed in step order;
 * - the users' counter caches (image_count, jobs_count) match the rows they count.
 */
export async function checkInvariants(pool: Pool, acceptedIds: number[] = []): Promise<InvariantReport> {
  const violations: string[] = [];
  const { rows: jobs } = await pool.query<JobRow>(
    'SELECT id, status, error, job_type, output_image_ids, finished_at, progress, attempts FROM jobs ORDER BY id',
  );
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const tally: Tally = { submitted: jobs.length, completed: 0, failed: 0, cancelled: 0, lost: 0, duplicated: 0 };
  const failures: InvariantReport['failures'] = [];

  for (const job of jobs) {
    if (job.status === 'completed') tally.completed++;
    else if (job.status === 'failed') tally.failed++;
    else if (job.status === 'cancelled') tally.cancelled++;
    else {
      tally.lost++;
      violations.push(
        `lost: job ${job.id} is still ${job.status} (attempts ${job.attempts}, progress ${job.progress}, error ${JSON.stringify(job.error)})`,
      );
    }
    if (job.status === 'failed') {
      failures.push({ id: job.id, error: job.error });
      if (!job.error?.trim()) violations.push(`job ${job.id} failed without a reason`);
    }
    if ((job.status === 'failed' || job.status === 'cancelled') && job.finished_at === null) {
      violations.push(`job ${job.id} is ${job.status} with no finished_at`);
    }
  }
  const missing = [...new Set(acceptedIds)].filter((id) => !byId.has(id));
  for (const id of missing) {
    tally.lost++;
    violations.push(`lost: job ${id} was accepted (201) but has no row`);
  }

  const { rows: outputs } = await pool.query<{ id: number; job_id: number; step_index: number | null; late: boolean }>(
    `SELECT i.id, i.job_id, i.step_index,
            (j.status IN ('failed', 'cancelled') AND j.finished_at IS NOT NULL AND i.created_at > j.finished_at) AS late
     FROM images i JOIN jobs j ON j.id = i.job_id ORDER BY i.job_id, i.step_index, i.id`,
  );
  const outputsByJob = new Map<number, typeof outputs>();
  for (const output of outputs) {
    const list = outputsByJob.get(output.job_id) ?? [];
    list.push(output);
    outputsByJob.set(output.job_id, list);
    if (output.late) {
      const job = byId.get(output.job_id)!;
      violations.push(
        `job ${job.id} (${job.status} at ${job.finished_at?.toISOString()}) has output image ${output.id} created after that`,
      );
    }
  }
  for (const [jobId, list] of outputsByJob) {
    const job = byId.get(jobId)!;
    const steps = job.job_type[0] === 'process' ? job.job_type.length - 1 : 1;
    const perStep = new Map<number | null, number[]>();
    for (const output of list) perStep.set(output.step_index, [...(perStep.get(output.step_index) ?? []), output.id]);
    for (const [step, ids] of perStep) {
      if (ids.length > 1) {
        tally.duplicated += ids.length - 1;
        violations.push(`duplicated: job ${jobId} step ${step} has ${ids.length} outputs (images ${ids.join(', ')})`);
      }
      if (job.job_type[0] === 'process' && (step === null || step < 0 || step >= steps)) {
        tally.duplicated += ids.length;
        violations.push(`duplicated: job ${jobId} has output(s) ${ids.join(', ')} at step ${step}, past its ${steps} steps`);
      }
    }
  }
  for (const job of jobs) {
    if (job.status !== 'completed' || job.job_type[0] !== 'process') continue;
    const steps = job.job_type.length - 1;
    const list = (outputsByJob.get(job.id) ?? []).filter((output) => output.step_index !== null && output.step_index < steps);
    const indexes = new Set(list.map((output) => output.step_index));
    if (indexes.size !== steps) {
      violations.push(`job ${job.id} completed with outputs for ${indexes.size} of its ${steps} steps`);
      continue;
    }
    const expected = [...list].sort((a, b) => a.step_index! - b.step_index!).map((output) => output.id);
    if (JSON.stringify(expected) !== JSON.stringify(job.output_image_ids)) {
      violations.push(
        `job ${job.id} lists outputs ${JSON.stringify(job.output_image_ids)}, its images by step are ${JSON.stringify(expected)}`,
      );
    }
  }

  violations.push(...(await counterMismatches(pool)));
  return { tally, violations, failures };
}

/**
 * users.<x>_count counter caches against the rows they count (the columns the migrations define):
 * the base in users plus the deltas not folded yet (user_usage_deltas).
 */
async function counterMismatches(pool: Pool): Promise<string[]> {
  const { rows: columns } = await pool.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name LIKE '%\\_count'`,
  );
  const counted: Record<string, string> = { image_count: 'images', images_count: 'images', jobs_count: 'jobs', job_count: 'jobs' };
  const mismatches: string[] = [];
  for (const { column_name: column } of columns) {
    const table = counted[column];
    if (!table) continue;
    const { rows } = await pool.query<{ id: number; cached: number; actual: string }>(
      `SELECT u.id, u."${column}" + coalesce((SELECT sum(d.${table}) FROM user_usage_deltas d WHERE d.user_id = u.id), 0) AS cached, (SELECT count(*) FROM ${table} t WHERE t.user_id = u.id) AS actual FROM users u`,
    );
    for (const row of rows) {
      if (Number(row.cached) !== Number(row.actual))
        mismatches.push(`users.${column} of user ${row.id} is ${row.cached}, but ${table} has ${row.actual} rows of theirs`);
    }
  }
  return mismatches;
}

/** Counts a job's outputs now and again `ms` later: a finished job must not gain any. */
export async function outputsStayPut(pool: Pool, jobId: number, ms: number): Promise<{ before: number; after: number }> {
  const count = async () => Number((await pool.query('SELECT count(*) FROM images WHERE job_id = $1', [jobId])).rows[0].count);
  const before = await count();
  await sleep(ms);
  return { before, after: await count() };
}

export function addTallies(tallies: Tally[]): Tally {
  const total: Tally = { submitted: 0, completed: 0, failed: 0, cancelled: 0, lost: 0, duplicated: 0 };
  for (const tally of tallies) for (const key of Object.keys(total) as (keyof Tally)[]) total[key] += tally[key];
  return total;
}

export interface CountsRow extends Tally {
  backend: string;
  scenario: string;
  seconds: number;
}

/** The end-of-suite table: one row per backend and scenario. */
export function formatCountsTable(rows: CountsRow[]): string {
  const columns: (keyof CountsRow)[] = [
    'backend',
    'scenario',
    'submitted',
    'completed',
    'failed',
    'cancelled',
    'lost',
    'duplicated',
    'seconds',
  ];
  const cells = rows.map((row) => columns.map((column) => (column === 'seconds' ? row.seconds.toFixed(1) : String(row[column]))));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i].length)));
  const line = (values: string[]) => values.map((value, i) => (i < 2 ? value.padEnd(widths[i]) : value.padStart(widths[i]))).join('  ');
  return [line(columns as string[]), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(line)].join('\n');
}
