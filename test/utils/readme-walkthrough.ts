import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const WALKTHROUGH_DOC = join(ROOT, 'docs', 'walkthrough.md');
export const WALKTHROUGH_SECTION = '## Use it with curl';

/**
 * The convention every page follows (docs/walkthrough.md states it for writers): each fenced
 * block names its language, and each `sh` block has, on the line right above its fence, either
 * `<!-- run -->` (the test runs it) or `<!-- not run -->`, in which case its first line is a
 * `# Not run by the tests: <why>` comment, so that a reader sees the reason too.
 */
export const RUN_MARKER = '<!-- run -->';
export const NOT_RUN_MARKER = '<!-- not run -->';
export const NOT_RUN_REASON = '# Not run by the tests: ';
/** Page directive: its examples use the walk-through's variables ($API, $AUTH, $IMAGE, $JOB, $STATE). */
export const AFTER_WALKTHROUGH = '<!-- examples run after the walk-through -->';
/** Page directive: settings the server needs for this page's examples, `<!-- server: NAME=value … -->`. */
const SERVER_DIRECTIVE = /^<!-- server: ((?:[A-Z_]+=\S+ ?)+) -->$/gm;

/** Languages a fenced block may name: the shell (marked), and what is shown, never run. */
const SHOWN_LANGUAGES = new Set(['text', 'yaml', 'js', 'ts', 'json', 'sql']);
/** A `text` block that opens with a command is a shell example in disguise. */
const COMMAND_START = /^(\$ |curl |npm |npx |node |docker |createdb |psql |bash |export |[A-Z_]+=\S* (npm|node|curl) )/;

export interface DocBlock {
  /** The page's path from the repository's root (README.md, docs/api.md). */
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  language: string;
  marker: 'run' | 'not run' | null;
  code: string;
}

/** The markdown pages whose shell examples must be run: README.md and every docs/*.md. */
export function docPages(): string[] {
  return [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => `docs/${name}`),
  ];
}

export const readPage = (page: string) => readFileSync(join(ROOT, page), 'utf8');

/** Every fenced block of a page, with the marker on the line above its fence. */
export function docBlocks(page: string, text: string = readPage(page)): DocBlock[] {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const close = lines.findIndex((line, j) => j > i && line === '```');
    if (close < 0) throw new Error(`${page}:${i + 1}: a fenced block that is never closed`);
    const above = lines[i - 1] ?? '';
    const marker = above === RUN_MARKER ? 'run' : above === NOT_RUN_MARKER ? 'not run' : null;
    blocks.push({ page, line: i + 1, language: open[1], marker, code: lines.slice(i + 1, close).join('\n') + '\n' });
    i = close;
  }
  return blocks;
}

/** What breaks the convention in these blocks, one line each naming page and line; none when all is well. */
export function conventionProblems(blocks: DocBlock[]): string[] {
  return blocks.flatMap(({ page, line, language, marker, code }) => {
    const where = `${page}:${line}`;
    if (language === 'sh') {
      if (!marker) return [`${where}: a sh block with neither "${RUN_MARKER}" nor "${NOT_RUN_MARKER}" on the line above its fence`];
      if (marker === 'not run' && !code.startsWith(NOT_RUN_REASON))
        return [`${where}: a "${NOT_RUN_MARKER}" block must open with "${NOT_RUN_REASON}<why>"`];
      return [];
    }
    if (!language) return [`${where}: a fenced block without a language (text for what a command prints, sh for commands)`];
    if (!SHOWN_LANGUAGES.has(language))
      return [`${where}: language "${language}": write sh for shell, or one of ${[...SHOWN_LANGUAGES].join(', ')}`];
    if (marker) return [`${where}: only sh blocks are run; this ${language} block has a run marker`];
    if (language === 'text' && COMMAND_START.test(code)) return [`${where}: a text block that starts with a command: make it a sh block`];
    return [];
  });
}

export interface PageScript {
  page: string;
  /** The page's run blocks, in order, as one script (after the walk-through's when the page says so). */
  script: string;
  blocks: number;
  afterWalkthrough: boolean;
  serverEnv: Record<string, string>;
}

/** The script the test runs for a page. */
export function pageScript(page: string, text: string = readPage(page)): PageScript {
  const run = docBlocks(page, text).filter((block) => block.language === 'sh' && block.marker === 'run');
  const afterWalkthrough = text.includes(AFTER_WALKTHROUGH);
  const serverEnv: Record<string, string> = {};
  for (const [, settings] of text.matchAll(SERVER_DIRECTIVE)) {
    for (const setting of settings.trim().split(' ')) {
      const [name, value] = setting.split('=');
      serverEnv[name] = value;
    }
  }
  const parts = run.map((block) => `# ${block.page}:${block.line}\n${block.code}`);
  if (afterWalkthrough) parts.unshift(`# docs/walkthrough.md, "${WALKTHROUGH_SECTION}"\n${extractWalkthrough()}`);
  return { page, script: parts.join('\n'), blocks: run.length, afterWalkthrough, serverEnv };
}

/**
 * The shell script of the walk-through (docs/walkthrough.md, which the README points to): the
 * first run block of its "Use it with curl" section, exactly as a reader copies it. Throws,
 * naming what is missing, when the section or the block cannot be found.
 */
export function extractWalkthrough(text: string = readFileSync(WALKTHROUGH_DOC, 'utf8')): string {
  const start = text.indexOf(`\n${WALKTHROUGH_SECTION}\n`);
  if (start < 0) throw new Error(`docs/walkthrough.md has no "${WALKTHROUGH_SECTION}" section`);
  const next = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, next < 0 ? undefined : next);
  const block = docBlocks('docs/walkthrough.md', section).find((candidate) => candidate.language === 'sh' && candidate.marker === 'run');
  if (!block) throw new Error(`docs/walkthrough.md: no \`\`\`sh block marked "${RUN_MARKER}" in "${WALKTHROUGH_SECTION}"`);
  return block.code;
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
