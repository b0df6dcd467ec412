import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const WALKTHROUGH_DOC = join(__dirname, '..', '..', 'docs', 'walkthrough.md');
export const WALKTHROUGH_SECTION = '## Use it with curl';
/** The HTML comment, invisible on GitHub, that marks the block the test runs. */
export const WALKTHROUGH_MARKER = '<!-- walkthrough';

/**
 * The shell script of the walk-through (docs/walkthrough.md, which the README points to): the first ```sh block after the
 * `<!-- walkthrough … -->` comment in the "Use it with curl" section, exactly as a reader copies it.
 * Throws, naming what is missing, when the section, the marker or the block cannot be found.
 */
export function extractWalkthrough(readme: string = readFileSync(WALKTHROUGH_DOC, 'utf8')): string {
  const start = readme.indexOf(`\n${WALKTHROUGH_SECTION}\n`);
  if (start < 0) throw new Error(`docs/walkthrough.md has no "${WALKTHROUGH_SECTION}" section`);
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const markers = section.split(WALKTHROUGH_MARKER).length - 1;
  if (markers !== 1) {
    throw new Error(
      `docs/walkthrough.md's "${WALKTHROUGH_SECTION}" section must hold exactly one "${WALKTHROUGH_MARKER} -->" comment; it holds ${markers}`,
    );
  }
  const afterMarker = section.slice(section.indexOf(WALKTHROUGH_MARKER));
  const block = /^```sh\n([\s\S]*?)^```$/m.exec(afterMarker);
  if (!block)
    throw new Error(`docs/walkthrough.md: no \`\`\`sh block after the "${WALKTHROUGH_MARKER} -->" comment in "${WALKTHROUGH_SECTION}"`);
  return block[1];
}

export interface ToolCheck {
  /** Not on PATH at all (spawning it says ENOENT): the machine genuinely lacks it. */
  missing: string[];
  /** On PATH but `<tool> --version` did not run cleanly: never a reason to skip. */
  broken: string[];
}

/** Which of `tools` this machine lacks, and which it has but cannot run, on `PATH`. */
export function checkTools(tools: string[], path = process.env.PATH ?? ''): ToolCheck {
  const result: ToolCheck = { missing: [], broken: [] };
  for (const tool of tools) {
    const run = spawnSync(tool, ['--version'], { env: { PATH: path }, encoding: 'utf8', timeout: 10_000 });
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') result.missing.push(tool);
    else if (run.error || run.status !== 0)
      result.broken.push(`${tool} (${run.error?.message ?? `exit ${run.status}: ${run.stderr.trim()}`})`);
  }
  return result;
}

export interface ScriptRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs `scriptFile` as the walk-through tells a reader to, `bash -euo pipefail walkthrough.sh`, in `cwd`
 * with exactly `env` (nothing inherited), and kills it after `timeoutMs`.
 */
export function runBashScript(scriptFile: string, cwd: string, env: Record<string, string>, timeoutMs: number): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', scriptFile], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** A run as one readable block, for failure messages. */
export function describeRun(label: string, run: ScriptRun): string {
  const ending = run.timedOut ? 'killed after its time limit' : run.signal ? `killed by ${run.signal}` : `exit ${run.code}`;
  return `${label}: ${ending}\n--- stdout ---\n${run.stdout.slice(-4000)}\n--- stderr ---\n${run.stderr.slice(-4000)}`;
}
