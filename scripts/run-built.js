'use strict';
/**
 * `npm start`, `npm run start:api` and `npm run start:worker`: builds dist/ only when a source
 * changed since the last build, then runs one file of it in this same process, so that signals
 * (Ctrl-C) reach the program as they would `node dist/…`.
 *
 *   node scripts/run-built.js                          builds if needed, and stops there
 *   node scripts/run-built.js dist/src/main.js [args]  builds if needed, then runs dist/src/main.js
 *
 * dist/ is stale when it has no record of a build by this script (dist/.build-stamp.json), when
 * a file that tsconfig.build.json compiles (src/, migrations/, bench/, spec files aside) or a
 * file that changes how (tsconfig*.json, package.json) was modified after the last build began,
 * or when a source file was added or removed since. The build is `tsc -p tsconfig.build.json`,
 * incremental (dist/tsconfig.build.tsbuildinfo); the outputs of removed sources are deleted, so
 * that the worker's operation registry, which loads every file of its folder, never finds one.
 * `npm run build` (nest build) still rebuilds everything from an empty dist/.
 */
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { join, relative, resolve, sep } = require('node:path');

const ROOT = resolve(__dirname, '..');
const SOURCE_DIRS = ['src', 'migrations', 'bench'];
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];
const STAMP = join('dist', '.build-stamp.json');
const BUILD_INFO = join('dist', 'tsconfig.build.tsbuildinfo');
/** A file every build has: a dist/ without it is no build at all. */
const ENTRY = join('dist', 'src', 'main.js');
const CLOCK_SLACK_MS = 50;

/** Every input of the build under `root`, as paths relative to it with `/` separators, sorted. */
function buildInputs(root) {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !entry.name.endsWith('.spec.ts')) found.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(join(root, dir))) walk(dir);
  for (const file of CONFIG_FILES) if (existsSync(join(root, file))) found.push(file);
  return found.sort();
}

/**
 * Whether dist/ under `root` must be built, and why: `{ stale, reason, removed }`, where
 * `removed` lists the sources of the last build that are gone.
 */
function staleness(root) {
  const inputs = buildInputs(root);
  const stampFile = join(root, STAMP);
  if (!existsSync(join(root, ENTRY))) return { stale: true, reason: 'first build', removed: [], inputs };
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    stamp = null;
  }
  if (!stamp || !Array.isArray(stamp.inputs) || typeof stamp.startedAt !== 'number') {
    return { stale: true, reason: 'no record of how dist/ was built', removed: [], inputs };
  }
  const before = new Set(stamp.inputs);
  const now = new Set(inputs);
  const removed = stamp.inputs.filter((path) => !now.has(path));
  const added = inputs.filter((path) => !before.has(path));
  const changed = inputs.filter((path) => before.has(path) && statSync(join(root, path)).mtimeMs > stamp.startedAt);
  const parts = [describe(changed, 'changed'), describe(added, 'added'), describe(removed, 'removed')].filter(Boolean);
  return { stale: parts.length > 0, reason: parts.join(', '), removed, inputs };
}

function describe(paths, what) {
  if (paths.length === 0) return '';
  return paths.length === 1 ? `${paths[0]} ${what}` : `${paths.length} files ${what}`;
}

/** The build outputs of a source file: foo.ts gives foo.js and its map. */
function outputsOf(source) {
  if (!source.endsWith('.ts')) return [];
  const base = join('dist', source.slice(0, -'.ts'.length));
  return [`${base}.js`, `${base}.js.map`];
}

/** Builds dist/ under `root` if it is stale; returns false when the build failed. */
function buildIfStale(root = ROOT, log = (text) => process.stdout.write(text)) {
  // A production image (Dockerfile) ships dist/ without the sources or the compiler: run it as built.
  if (!existsSync(join(root, 'src')) && existsSync(join(root, ENTRY))) return true;
  const { stale, reason, removed, inputs } = staleness(root);
  if (!stale) return true;
  // A file system's clock may lag a little behind Date.now(): a change made as the build starts
  // must still count as after it.
  const startedAt = Date.now() - CLOCK_SLACK_MS;
  log(`Building dist/ (${reason})… `);
  for (const source of removed) for (const output of outputsOf(source)) rmSync(join(root, output), { force: true });
  // No record of a build by this script: dist/ may be partial, so nothing in it is trusted.
  if (!existsSync(join(root, STAMP))) rmSync(join(root, BUILD_INFO), { force: true });
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) {
    // tsc writes its JavaScript even so: without a record, the next start builds again.
    rmSync(join(root, STAMP), { force: true });
    const said = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim();
    log(`failed (${build.error?.message ?? `tsc exited with ${build.signal ?? build.status}`}):\n${said}\nFix it and start again.\n`);
    return false;
  }
  writeFileSync(join(root, STAMP), `${JSON.stringify({ startedAt, inputs })}\n`);
  log(`done in ${((Date.now() - startedAt - CLOCK_SLACK_MS) / 1000).toFixed(1)} s\n`);
  return true;
}

module.exports = { buildInputs, staleness, buildIfStale, outputsOf };

if (require.main === module) {
  if (!buildIfStale()) process.exit(1);
  const [entry, ...args] = process.argv.slice(2);
  if (entry) {
    const file = resolve(ROOT, entry);
    if (!relative(join(ROOT, 'dist'), file) || relative(join(ROOT, 'dist'), file).startsWith(`..${sep}`)) {
      console.error(`run-built.js runs files of dist/, not ${entry}`);
      process.exit(1);
    }
    // The program sees the arguments it would under `node dist/…`.
    process.argv = [process.argv[0], file, ...args];
    require(file);
  }
}
