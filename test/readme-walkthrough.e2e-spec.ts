import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { migrations } from '../migrations';
import { freePort } from '../src/common/free-port';
import { fixture } from './utils/factories';
import { API_MAIN, ManagedProcess, PollAbort, pollUntil, startNode } from './utils/faults/processes';
import {
  checkTools,
  conventionProblems,
  docBlocks,
  docPages,
  describeRun,
  extractWalkthrough,
  pageScript,
  readPage,
  runBashScript,
  ScriptRun,
} from './utils/readme-walkthrough';
import { createSuiteDatabase } from './utils/suite-database';

/**
 * docs/walkthrough.md's "Use it with curl" script, run as a reader runs it (`bash -euo pipefail
 * walkthrough.sh`) against the product started from dist/ as `npm start` starts it (API and worker
 * child): twice in a row as ada in one directory, on one database, then as grace. Then every page
 * of README.md and docs/: its `<!-- run -->` shell blocks, in order, as one script in a directory
 * of its own. The documents can therefore not drift from the product.
 */
const TOOLS = ['bash', 'curl', 'jq', 'node'];
const PAGES = docPages().map((page) => pageScript(page));

describe('The shell examples of README.md and docs/', () => {
  it('each fenced block names its language, and each sh block says whether the test runs it', () => {
    expect(docPages().flatMap((page) => conventionProblems(docBlocks(page)))).toEqual([]);
  });

  it("README's Layout names every folder of src/ once, and its start-up sample counts today's migrations", () => {
    const readme = readPage('README.md');
    const layout = readme.slice(readme.indexOf('\n## Layout\n'));
    const listed = [...layout.matchAll(/^\| `src\/([^/`]+)\/` \|/gm)].map(([, folder]) => folder);
    const folders = readdirSync(join(__dirname, '..', 'src'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect([...listed].sort()).toEqual([...new Set(folders)].sort());
    expect(listed).toHaveLength(folders.length);
    expect(readme).toContain(`(${migrations.length} migrations)`);
    expect(readme).toContain(migrations.map((migration) => migration.name.replace(/\d+$/, '')).join(', '));
  });

  it("names only files of the repository that exist: a page outlives a file's move only by saying so", () => {
    const root = join(__dirname, '..');
    const named = docPages().flatMap((page) =>
      [...readPage(page).matchAll(/(?<![\w./-])((?:src|test|migrations|bench|scripts|deploy|docs)\/[\w./-]*\w)/g)].map(([, path]) => ({
        page,
        path,
      })),
    );
    expect(named.length).toBeGreaterThan(50);
    expect(named.filter(({ path }) => !existsSync(join(root, path))).map(({ page, path }) => `${page}: ${path}`)).toEqual([]);
  });

  it('refuses a page whose shell block carries no marker, or a text block that holds a command', () => {
    const page = ['<!-- run -->', '```sh', 'curl -sSf $API/health', '```', '```sh', 'curl $API', '```', '```text', 'npm start', '```'].join(
      '\n',
    );
    expect(conventionProblems(docBlocks('docs/new.md', page))).toEqual([
      'docs/new.md:5: a sh block with neither "<!-- run -->" nor "<!-- not run -->" on the line above its fence',
      'docs/new.md:8: a text block that starts with a command: make it a sh block',
    ]);
  });
});
const RUN_TIMEOUT_MS = 150_000;
/** In CI the tools are part of the machine: their absence is a failure there, never a skip. */
const TOOLS_REQUIRED = process.env.CI === 'true';

const tools = checkTools(TOOLS);
const skipWhy =
  tools.missing.length && !TOOLS_REQUIRED
    ? `${tools.missing.join(', ')} not installed on this machine (the walk-through needs ${TOOLS.join(', ')})`
    : null;
if (skipWhy)
  console.warn(
    `Skipping test/readme-walkthrough.e2e-spec.ts: ${skipWhy}. Install them to run it; in CI (CI=true) their absence fails the suite.`,
  );

interface Outcome {
  run: ScriptRun;
  /** Files the run added to its directory. */
  added: string[];
  /** The last job state the script printed: {"status", "progress", "outputs", "error"}. */
  finalState: { status: string; outputs: number[]; error: string | null };
}

(skipWhy ? describe.skip : describe)(`The walk-through (docs/walkthrough.md)${skipWhy ? ` (skipped: ${skipWhy})` : ''}`, () => {
  let script: string;
  let database: { url: string; drop(): Promise<void> } | undefined;
  let server: ManagedProcess | undefined;
  let workDir: string;
  let api: string;
  let workerMetricsPort: string;
  const outcomes: Outcome[] = [];

  beforeAll(async () => {
    if (tools.missing.length)
      throw new Error(
        `The walk-through needs ${tools.missing.join(', ')}, which ${tools.missing.length > 1 ? 'are' : 'is'} not installed (CI=true: install them on the CI machine)`,
      );
    if (tools.broken.length)
      throw new Error(`The walk-through needs ${TOOLS.join(', ')}; these are installed but do not run: ${tools.broken.join('; ')}`);
    script = extractWalkthrough();
    workDir = mkdtempSync(join(tmpdir(), 'darkroom-readme-'));
    writeFileSync(join(workDir, 'walkthrough.sh'), script);
    database = await createSuiteDatabase(`readme_${process.pid}`);
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api`;
    workerMetricsPort = String(await freePort());
    const dataDir = join(workDir, 'data');
    const inherited = Object.fromEntries(
      ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'USER'].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
    );
    server = startNode(
      'darkroom',
      API_MAIN,
      [],
      {
        ...inherited,
        DATABASE_URL: database.url,
        PORT: String(port),
        DATA_DIR: dataDir,
        REDIS_URL: process.env.REDIS_URL,
        WORKER_METRICS_PORT: workerMetricsPort,
        // What the pages ask the server for (`<!-- server: … -->`): the webhook examples' local receiver.
        ...Object.assign({}, ...PAGES.map((page) => page.serverEnv)),
        // Three runs of the walk-through sign up or in from one address, among other suites' traffic.
        AUTH_RATE_LIMIT: '0',
        JOB_RATE_LIMIT: '0',
        UPLOAD_RATE_LIMIT: '0',
      },
      join(workDir, 'server.log'),
    );
    const started = server;
    await pollUntil(
      `the product to answer on ${api}`,
      async () => {
        if (!started.running)
          throw new PollAbort(`The product exited (${JSON.stringify(started.exit)}) before answering HTTP:\n${started.tail()}`);
        return (await fetch(`${api}/jobs.json`, { signal: AbortSignal.timeout(2_000) })).status === 401;
      },
      90_000,
      200,
    );
  }, 120_000);

  afterAll(async () => {
    await server?.signal('SIGTERM', 30_000);
    await server?.kill();
    await database?.drop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  /** Runs the script in `directory` (made on first use, with photo.jpg) as `user` (the script's default: ada). */
  async function walk(directory: string, user?: string): Promise<Outcome> {
    const cwd = join(workDir, directory);
    if (!existsSync(cwd)) {
      mkdirSync(cwd);
      writeFileSync(join(cwd, 'photo.jpg'), fixture('astronaut.jpg')); // the walk-through's suggestion
    }
    const before = new Set(readdirSync(cwd));
    // Only what a reader's shell would have; HOME is the run's own so no ~/.curlrc or ~/.jq applies.
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, API: api };
    if (user) env.DARKROOM_USER = user;
    const run = await runBashScript(join(workDir, 'walkthrough.sh'), cwd, env, RUN_TIMEOUT_MS);
    const label = `bash -euo pipefail walkthrough.sh in ${directory}${user ? ` as ${user}` : ''}`;
    if (run.code !== 0) throw new Error(`${describeRun(label, run)}\n--- server log ---\n${server?.tail(60)}`);
    const states = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{"status":'))
      .map((line) => JSON.parse(line) as Outcome['finalState']);
    if (!states.length) throw new Error(`${describeRun(label, run)}\nprinted no job state`);
    const outcome = {
      run,
      added: readdirSync(cwd)
        .filter((name) => !before.has(name))
        .sort(),
      finalState: states[states.length - 1],
    };
    outcomes.push(outcome);
    return outcome;
  }

  /** The run completed its job and left its outputs and the job's zip, named by the server, in `directory`. */
  async function expectResults(directory: string, outcome: Outcome): Promise<number> {
    const { finalState, added, run } = outcome;
    expect(finalState).toMatchObject({ status: 'completed', error: null });
    expect(finalState.outputs).toHaveLength(2);
    const [grayscale, histogram] = finalState.outputs;
    const zip = added.find((name) => /^job-\d+\.zip$/.test(name));
    expect(added).toEqual([`${grayscale}-grayscale.png`, `${histogram}-histogram.png`, zip].sort());
    const cwd = join(workDir, directory);
    expect(await sharp(join(cwd, `${grayscale}-grayscale.png`)).metadata()).toMatchObject({
      format: 'png',
      width: 512,
      height: 512,
      channels: 1,
    });
    expect(await sharp(join(cwd, `${histogram}-histogram.png`)).metadata()).toMatchObject({ format: 'png' });
    const zipped = readFileSync(join(cwd, zip!));
    expect(zipped.subarray(0, 4)).toEqual(Buffer.from('PK\x03\x04', 'latin1'));
    expect(zipped.includes(`${grayscale}-grayscale.png`)).toBe(true);
    expect(zipped.includes(`${histogram}-histogram.png`)).toBe(true);
    // The histogram's 256 bins, printed on one line, sum to the photo's pixel count.
    const bins = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('['))
      .map((line) => JSON.parse(line) as unknown[])
      .find((array) => array.length === 256) as number[] | undefined;
    expect(bins?.reduce((sum, count) => sum + count, 0)).toBe(512 * 512);
    return Number(/^job-(\d+)\.zip$/.exec(zip!)![1]);
  }

  /** Signs in with the script's default password: the account the script made exists. */
  async function signIn(username: string): Promise<{ id: number; token: string }> {
    const response = await fetch(`${api}/sessions.json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password: 'correct horse' }),
    });
    expect(response.status).toBe(200);
    const user = (await response.json()) as { id: number; authentication_token: string };
    return { id: user.id, token: user.authentication_token };
  }

  async function get<T>(path: string, token: string): Promise<T> {
    const response = await fetch(`${api}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  it(
    'runs as a newcomer types it: signs ada up, uploads, waits, downloads the outputs and the zip',
    async () => {
      await expectResults('ada', await walk('ada'));
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'runs again in the same directory on the same database: ada signs in, and new files join the old',
    async () => {
      if (outcomes.length !== 1) throw new Error('The first run did not complete (see its failure above)');
      await expectResults('ada', await walk('ada'));
      const [first, second] = outcomes;
      expect(second.finalState.outputs.some((id) => first.finalState.outputs.includes(id))).toBe(false);
      for (const name of first.added) expect(readdirSync(join(workDir, 'ada'))).toContain(name);
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'runs for a second user (DARKROOM_USER=grace), whose job is hers alone',
    async () => {
      if (outcomes.length !== 2) throw new Error('The first two runs did not complete (see their failures above)');
      const gracesJob = await expectResults('grace', await walk('grace', 'grace'));
      const [ada, grace] = [await signIn('ada'), await signIn('grace')];
      expect(grace.id).not.toBe(ada.id);
      // (By user_id, not by what each may see: the first account on a server may be its admin.)
      expect(await get(`/jobs.json?n=all&user_id=${ada.id}`, ada.token)).toHaveLength(2);
      expect(await get(`/jobs/${gracesJob}.json`, grace.token)).toMatchObject({ user_id: grace.id, status: 'completed' });
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'runs again where files of the names it downloads exist, as after a reset of the server, and replaces them',
    async () => {
      if (outcomes.length !== 3) throw new Error('The first three runs did not complete (see their failures above)');
      const cwd = join(workDir, 'after-reset');
      mkdirSync(cwd);
      writeFileSync(join(cwd, 'photo.jpg'), fixture('astronaut.jpg'));
      // A reset starts the ids at 1 again: what an earlier run downloaded then bears the new run's names.
      for (let id = 1; id <= 60; id++) {
        for (const name of [`${id}-grayscale.png`, `${id}-histogram.png`, `job-${id}.zip`]) writeFileSync(join(cwd, name), 'stale\n');
      }
      const { finalState } = await walk('after-reset');
      expect(finalState).toMatchObject({ status: 'completed', error: null });
      const [grayscale, histogram] = finalState.outputs;
      expect(await sharp(join(cwd, `${grayscale}-grayscale.png`)).metadata()).toMatchObject({ format: 'png', width: 512, channels: 1 });
      expect(await sharp(join(cwd, `${histogram}-histogram.png`)).metadata()).toMatchObject({ format: 'png' });
      const zips = readdirSync(cwd).filter(
        (name) => /^job-\d+\.zip$/.test(name) && readFileSync(join(cwd, name)).subarray(0, 2).toString() === 'PK',
      );
      expect(zips).toHaveLength(1);
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it.each(PAGES.filter((page) => page.blocks > 0).map((page) => [page.page, page] as const))(
    'runs the shell examples of %s as pasted',
    async (_, page) => {
      const cwd = join(workDir, page.page.replace(/\W/g, '-'));
      mkdirSync(cwd);
      writeFileSync(join(cwd, 'photo.jpg'), fixture('astronaut.jpg'));
      writeFileSync(join(cwd, 'examples.sh'), page.script);
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, API: api, WORKER_METRICS_PORT: workerMetricsPort };
      const run = await runBashScript(join(cwd, 'examples.sh'), cwd, env, RUN_TIMEOUT_MS);
      if (run.code !== 0)
        throw new Error(`${describeRun(`bash -euo pipefail examples.sh of ${page.page}`, run)}\n--- server log ---\n${server?.tail(60)}`);
    },
    RUN_TIMEOUT_MS + 10_000,
  );
});
