import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * scripts/run-built.js (npm start's "build only when a source changed"), tested here because the
 * unit project looks in src/. It is plain JavaScript: it runs before anything is compiled.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildIfStale, buildInputs, staleness, outputsOf } = require('../scripts/run-built');

interface Staleness {
  stale: boolean;
  reason: string;
  removed: string[];
}

describe('scripts/run-built.js', () => {
  let root: string;
  let logged: string;
  const log = (text: string) => (logged += text);
  const write = (path: string, text: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  /** Sets a file's modification time `seconds` from now. */
  const touch = (path: string, seconds: number) => {
    const when = new Date(Date.now() + seconds * 1000);
    utimesSync(join(root, path), when, when);
  };
  const check = (): Staleness => staleness(root);
  /** What a build leaves, without running tsc. */
  const recordBuild = () => {
    write('dist/src/main.js', '');
    write('dist/.build-stamp.json', JSON.stringify({ startedAt: Date.now(), inputs: buildInputs(root) }));
  };

  // Three of these run tsc, which takes seconds on a busy machine.
  jest.setTimeout(60_000);

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'run-built-'));
    logged = '';
    symlinkSync(join(__dirname, '..', 'node_modules'), join(root, 'node_modules'), 'dir');
    write(
      'tsconfig.build.json',
      JSON.stringify({
        compilerOptions: {
          module: 'commonjs',
          target: 'ES2022',
          outDir: './dist',
          rootDir: '.',
          incremental: true,
          strict: true,
          types: [],
        },
        include: ['src', 'migrations', 'bench'],
        exclude: ['**/*.spec.ts'],
      }),
    );
    write('package.json', '{}');
    write('src/main.ts', 'export const main = 1;\n');
    write('src/worker/operations/blur.ts', 'export const blur = 2;\n');
    write('src/main.spec.ts', 'export {};\n');
    // Written a while ago, as sources usually are before a start.
    for (const path of ['tsconfig.build.json', 'package.json', 'src/main.ts', 'src/worker/operations/blur.ts', 'src/main.spec.ts'])
      touch(path, -60);
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds a dist/ that does not exist, then not again until a source changes', () => {
    expect(check()).toMatchObject({ stale: true, reason: 'first build' });
    expect(buildIfStale(root, log)).toBe(true);
    expect(logged).toMatch(/^Building dist\/ \(first build\)… done in \d+\.\d s\n$/);
    expect(existsSync(join(root, 'dist/src/main.js'))).toBe(true);

    logged = '';
    expect(check()).toMatchObject({ stale: false, reason: '' });
    expect(buildIfStale(root, log)).toBe(true);
    expect(logged).toBe('');
  });

  it('runs the dist/ of a production image, which has no sources and no compiler, as it is', () => {
    write('dist/src/main.js', '');
    rmSync(join(root, 'src'), { recursive: true });
    unlinkSync(join(root, 'node_modules'));
    expect(buildIfStale(root, log)).toBe(true);
    expect(logged).toBe('');
  });

  it('names what changed: a source, a setting, a new file; spec files do not count', () => {
    recordBuild();
    touch('src/main.spec.ts', 5);
    expect(check().stale).toBe(false);

    touch('src/main.ts', 5);
    expect(check()).toMatchObject({ stale: true, reason: 'src/main.ts changed' });
    touch('package.json', 5);
    expect(check()).toMatchObject({ stale: true, reason: '2 files changed' });
    write('migrations/1-First.ts', 'export const first = 3;\n');
    expect(check()).toMatchObject({ stale: true, reason: '2 files changed, migrations/1-First.ts added' });
  });

  it('deletes the outputs of a removed source, which the operation registry would otherwise load', () => {
    buildIfStale(root, log);
    expect(existsSync(join(root, 'dist/src/worker/operations/blur.js'))).toBe(true);
    unlinkSync(join(root, 'src/worker/operations/blur.ts'));
    expect(check()).toMatchObject({
      stale: true,
      reason: 'src/worker/operations/blur.ts removed',
      removed: ['src/worker/operations/blur.ts'],
    });

    expect(buildIfStale(root, log)).toBe(true);
    expect(existsSync(join(root, 'dist/src/worker/operations/blur.js'))).toBe(false);
    expect(existsSync(join(root, 'dist/src/worker/operations/blur.js.map'))).toBe(false);
    expect(check().stale).toBe(false);
  });

  it('rebuilds a dist/ it has no record of (built by nest build, or half deleted)', () => {
    recordBuild();
    unlinkSync(join(root, 'dist/.build-stamp.json'));
    expect(check()).toMatchObject({ stale: true, reason: 'no record of how dist/ was built' });
    rmSync(join(root, 'dist/src/main.js'));
    expect(check()).toMatchObject({ stale: true, reason: 'first build' });
  });

  it('fails on a type error, says what tsc said, and builds again at the next start', () => {
    buildIfStale(root, log);
    write('src/main.ts', 'export const main: number = "one";\n');
    touch('src/main.ts', 5);
    logged = '';
    expect(buildIfStale(root, log)).toBe(false);
    expect(logged).toContain("error TS2322: Type 'string' is not assignable to type 'number'");
    expect(check()).toMatchObject({ stale: true, reason: 'no record of how dist/ was built' });
  });

  it('maps a source to its outputs', () => {
    expect(outputsOf('src/a/b.ts')).toEqual([join('dist', 'src/a/b.js'), join('dist', 'src/a/b.js.map')]);
    expect(outputsOf('src/data.json')).toEqual([]);
  });
});
