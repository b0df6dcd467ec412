import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Backend, Cluster } from './cluster';
import { addTallies, checkInvariants, CountsRow, InvariantReport, unfinishedJobs, waitUntilAllFinal } from './invariants';
import { DatabaseServer, runServer } from './postgres';
import { Env } from './processes';

/** How long jobs get to become final once the last fault is over; a job not final by then is lost. */
export const FINAL_BOUND_MS = 120_000;

/** Every scenario's row, printed as one table at the end of the suite. */
export const countsRows: CountsRow[] = [];

export interface ScenarioContext {
  backend: Backend;
  /** A new deployment on its own database (`label` tells apart several in one scenario). */
  cluster(label: string, settings?: Env): Promise<Cluster>;
  /** Marks the end of the fault injection: the bound for every job to be final starts now. */
  faultsOver(): void;
  /** A line for the scenario's diagnostics, printed with the logs when it fails. */
  note(line: string): void;
}

export interface ScenarioOptions {
  /** The server the scenario's databases live on: the run's by default. */
  server?: () => Promise<DatabaseServer>;
  boundMs?: number;
}

/**
 * Runs one fault scenario on one backend: `body` sets up deployments and injects its faults;
 * then every job gets FINAL_BOUND_MS to be final, the invariants are checked on every database,
 * the counts row is recorded, and lost = duplicated = 0 with no other violation is asserted.
 * Every process is killed and every database dropped whatever happens; on a failure the tails of
 * the children's logs are printed and their data directories kept.
 */
export async function runScenario(
  backend: Backend,
  scenario: string,
  body: (context: ScenarioContext & { server: DatabaseServer }) => Promise<void>,
  options: ScenarioOptions = {},
): Promise<void> {
  const started = Date.now();
  const clusters: Cluster[] = [];
  const notes: string[] = [];
  let faultsOverAt: number | null = null;
  let failed = true;
  const server = await (options.server ?? (async () => runServer()))();
  const note = (line: string) => notes.push(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
  const context = {
    backend,
    server,
    note,
    faultsOver: () => {
      if (faultsOverAt !== null) return;
      faultsOverAt = Date.now();
      note('faults over');
    },
    async cluster(label: string, settings: Env = {}) {
      const name = `f${backend.name[0]}_${scenario.replace(/[^a-z0-9]+/gi, '_').slice(0, 18)}_${label}`.toLowerCase();
      const cluster = await Cluster.create(label, backend, server, name, settings);
      clusters.push(cluster);
      return cluster;
    },
  };
  try {
    let reports: InvariantReport[];
    let bodyError: unknown;
    try {
      await body(context);
    } catch (error) {
      bodyError = error;
    }
    const finishedAt = Date.now();
    if (bodyError === undefined) {
      context.faultsOver();
      const deadline = faultsOverAt! + (options.boundMs ?? FINAL_BOUND_MS);
      for (const cluster of clusters) {
        if (await waitUntilAllFinal(cluster.pool, Math.max(0, deadline - Date.now()))) {
          note(`${cluster.label}: every job final ${((Date.now() - faultsOverAt!) / 1000).toFixed(1)} s after the faults`);
        } else {
          note(
            `${cluster.label}: not every job was final within the bound: ${JSON.stringify(await unfinishedJobs(cluster.pool).catch(() => []))}`,
          );
        }
      }
      reports = await Promise.all(clusters.map((cluster) => checkInvariants(cluster.pool, cluster.acceptedIds)));
    } else {
      // The scenario itself broke: still count what there is, for the table, then report the error.
      reports = await Promise.all(clusters.map((cluster) => checkInvariants(cluster.pool, cluster.acceptedIds).catch(() => null))).then(
        (all) => all.filter((report): report is InvariantReport => report !== null),
      );
    }
    const tally = addTallies(reports.map((report) => report.tally));
    const seconds = ((bodyError === undefined ? Date.now() : finishedAt) - started) / 1000;
    countsRows.push({ backend: backend.name, scenario: bodyError === undefined ? scenario : `${scenario} (error)`, ...tally, seconds });
    for (const report of reports) {
      for (const failure of report.failures) note(`job ${failure.id} failed: ${failure.error}`);
    }
    if (bodyError !== undefined) throw bodyError;
    const violations = [
      ...reports.flatMap((report, i) => report.violations.map((violation) => `${clusters[i].label}: ${violation}`)),
      ...clusters.flatMap((cluster) => cluster.crashes().map((crash) => `${cluster.label}: ${crash}`)),
    ];
    expect({ lost: tally.lost, duplicated: tally.duplicated, violations }).toEqual({ lost: 0, duplicated: 0, violations: [] });
    failed = false;
  } catch (error) {
    const logs = clusters.map((cluster) => cluster.logTails()).join('\n');
    console.error(
      `[${backend.name}] ${scenario} failed: ${(error as Error).message}\n` +
        `notes:\n  ${notes.join('\n  ')}\n` +
        `data directories kept: ${clusters.map((cluster) => cluster.dataDir).join(', ')}\n${logs}`,
    );
    throw error;
  } finally {
    for (const cluster of clusters) await cluster.close({ keepFiles: failed });
    await server.close();
    if (!failed && (process.env.FAULTS_VERBOSE || notes.some((line) => / failed: /.test(line))))
      console.log(`[${backend.name}] ${scenario}:\n  ${notes.join('\n  ')}`);
  }
}

const fixture = (name: string) => readFileSync(join(__dirname, '..', '..', 'fixtures', name));

/** Test images made once from the astronaut fixture: small ones for volume, a large one for slow jobs. */
export const images = {
  small: memo(() => sharp(fixture('astronaut.png')).resize(256, 256).png({ compressionLevel: 1 }).toBuffer()),
  medium: memo(() => sharp(fixture('astronaut.png')).resize(512, 512).png({ compressionLevel: 1 }).toBuffer()),
  large: memo(() => sharp(fixture('astronaut.png')).resize(2000, 2000).png({ compressionLevel: 1 }).toBuffer()),
};

function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}
