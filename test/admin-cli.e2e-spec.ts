import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync, mkdtempSync, chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { Client } from 'pg';
import { freePort } from '../src/common/free-port';
import { loadConfig } from '../src/config/app-config';
import { openDatabase } from '../src/database/database';
import { main, runningEmbeddedDatabase } from '../src/users/admin.cli';
import { createUser, unique } from './utils/factories';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, testEnv } from './utils/test-app';

/** What one run of `npm run admin -- …` printed and returned, run in this process. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function runCli(argv: string[], env: NodeJS.ProcessEnv, stdin: Readable & { isTTY?: boolean } = Readable.from([])): Promise<Run> {
  const stdout = collector();
  const stderr = collector();
  const code = await main(argv, { env, stdin, stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const piped = (text: string) => Readable.from([Buffer.from(text)]);

/** A terminal that types `lines`, each answer once the previous prompt has been written. */
function terminal(lines: string[]): Readable & { isTTY: boolean; setRawMode: (raw: boolean) => void; rawModes: boolean[] } {
  const input = new PassThrough() as unknown as PassThrough & { isTTY: boolean; setRawMode: (raw: boolean) => void; rawModes: boolean[] };
  input.isTTY = true;
  input.rawModes = [];
  input.setRawMode = (raw: boolean) => {
    input.rawModes.push(raw);
    if (raw) {
      const line = lines.shift();
      if (line !== undefined) setImmediate(() => input.write(line));
    }
  };
  return input;
}

const expectOneLine = (text: string) => expect(text).toMatch(/^[^\n]+\n$/);

describe('npm run admin (src/users/admin.cli.ts)', () => {
  describe('against DATABASE_URL', () => {
    let database: { url: string; drop(): Promise<void> };
    let app: NestExpressApplication;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      database = await createSuiteDatabase(`admin_cli_${process.pid}`);
      app = await createTestApp(testEnv({ DATABASE_URL: database.url }));
      env = { DATABASE_URL: database.url, DATA_DIR: mkdtempSync(join(tmpdir(), 'darkroom-admin-cli-')) };
    });

    afterAll(async () => {
      await app?.close();
      await database?.drop();
    });

    it('makes an existing user an admin, in one line, and says so when there is nothing to do', async () => {
      const user = await createUser(app);
      await api(app).get('/api/users.json').set(bearer(user.token)).expect(200);
      const run = await runCli(['--username', user.username], env);
      expect(run).toEqual({ code: 0, stdout: `${user.username} (user ${user.id}) is now an admin\n`, stderr: '' });
      const me = await api(app).get(`/api/users/${user.id}.json`).set(bearer(user.token)).expect(200);
      expect(me.body.admin).toBe(true);
      // As an admin, the user now sees everyone.
      const other = await createUser(app);
      const all = await api(app).get('/api/users.json?n=all').set(bearer(user.token)).expect(200);
      expect(all.body.map((listed: { id: number }) => listed.id)).toContain(other.id);

      const again = await runCli([`--username=${user.username}`], env);
      expect(again).toEqual({ code: 0, stdout: `${user.username} (user ${user.id}) is already an admin; nothing changed\n`, stderr: '' });
    });

    it('answers an unknown user with one line and exit code 1', async () => {
      const run = await runCli(['--username', 'nobody-at-all'], env);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        'darkroom admin: No user named "nobody-at-all": check the name, or create one with --create --email <address>\n',
      );
    });

    it('creates an admin with the password from --password-stdin, who can sign in with it', async () => {
      const username = unique('cliadmin');
      const run = await runCli(
        ['--create', '--username', username, '--email', `${username}@Example.com`, '--password-stdin'],
        env,
        piped('correct horse\n'),
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(
          `^Created ${username} \\(user \\d+\\), ${username}@example\\.com, as an admin; sign in with POST /api/sessions for a token\\n$`,
        ),
      );
      // The newline that `echo` adds is no part of the password.
      const session = await api(app).post('/api/sessions.json').send({ username, password: 'correct horse' }).expect(200);
      expect(session.body).toMatchObject({ username, email: `${username}@example.com`, admin: true });
    });

    it('asks for the password twice in a terminal, without echoing it', async () => {
      const username = unique('ttyadmin');
      const tty = terminal(['s3cret pass\r', 's3cret pass\r']);
      const run = await runCli(['--create', '--username', username, '--email', `${username}@example.com`], env, tty);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('Password: \nPassword again: \n');
      expect(run.stdout).not.toContain('s3cret');
      expect(tty.rawModes).toEqual([true, false, true, false]);
      await api(app).post('/api/sessions.json').send({ username, password: 's3cret pass' }).expect(200);

      const mismatch = await runCli(
        ['--create', '--username', unique('tty'), '--email', 'x@example.com'],
        env,
        terminal(['one password\r', 'another one\r']),
      );
      expect(mismatch).toMatchObject({
        code: 1,
        stderr: 'Password: \nPassword again: \ndarkroom admin: The two passwords differ; nothing was changed\n',
      });
    });

    it.each([
      [
        'no way to get a password',
        ['--create', '--username', 'newcomer', '--email', 'newcomer@example.com'],
        '',
        /--create needs a password: run it in a terminal to be asked, or pipe it in with --password-stdin/,
      ],
      [
        'a short password',
        ['--create', '--username', 'newcomer', '--email', 'newcomer@example.com', '--password-stdin'],
        'short',
        /password must be 8 to 72 bytes long/,
      ],
      [
        'a bad email',
        ['--create', '--username', 'newcomer', '--email', 'not-an-email', '--password-stdin'],
        'long enough',
        /email must be an email address/,
      ],
      [
        'a bad username',
        ['--create', '--username', 'a b', '--email', 'ab@example.com', '--password-stdin'],
        'long enough',
        /username may contain only/,
      ],
    ])('refuses to create with %s, in one line', async (_, argv, password, message) => {
      const run = await runCli(argv, env, piped(password));
      expect(run.code).toBe(1);
      expectOneLine(run.stderr);
      expect(run.stderr).toMatch(message);
    });

    it('refuses to create a user whose name or email is taken', async () => {
      const user = await createUser(app);
      const name = await runCli(
        ['--create', '--username', user.username, '--email', 'fresh@example.com', '--password-stdin'],
        env,
        piped('long enough'),
      );
      expect(name.stderr).toBe(
        `darkroom admin: A user named "${user.username}" already exists: leave out --create (and --email) to make them an admin\n`,
      );
      const email = await runCli(
        ['--create', '--username', unique('fresh'), '--email', user.email, '--password-stdin'],
        env,
        piped('long enough'),
      );
      expect(email.stderr).toBe(`darkroom admin: The email ${user.email} belongs to ${user.username} (user ${user.id}) already\n`);
      expect([name.code, email.code]).toEqual([1, 1]);
    });

    it('says what is wrong with the flags before it touches any database', async () => {
      const nowhere = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nothing' };
      for (const [argv, message] of [
        [['--name', 'ada'], 'Unknown option --name (see --help)'],
        [[], '--username <name> is required (see --help)'],
        [['--create', '--username', 'ada'], '--create needs --email <address>'],
      ] as const) {
        expect(await runCli([...argv], nowhere)).toEqual({ code: 1, stdout: '', stderr: `darkroom admin: ${message}\n` });
      }
      const help = await runCli(['--help'], nowhere);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: npm run admin -- --username <name>');
    });

    it('says in one line when the database cannot be reached or the configuration is wrong', async () => {
      const port = await freePort();
      const unreachable = await runCli(['--username', 'ada'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nothing` });
      expect(unreachable.code).toBe(1);
      expectOneLine(unreachable.stderr);
      expect(unreachable.stderr).toMatch(/^darkroom admin: Could not use the database: .*ECONNREFUSED/);
      const misconfigured = await runCli(['--username', 'ada'], { DATABASE_URL: 'mysql://somewhere' });
      expect(misconfigured).toEqual({
        code: 1,
        stdout: '',
        stderr: 'darkroom admin: Invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// connection URL\n',
      });
    });
  });

  describe('finding the embedded PostgreSQL the app runs', () => {
    let dataDir: string;

    beforeEach(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'darkroom-admin-pid-'));
      mkdirSync(join(dataDir, 'postgres', 'cluster'), { recursive: true });
      writeFileSync(join(dataDir, 'postgres', 'password'), 'pass word\n');
    });

    afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

    const writePidFile = (pid: number, port: string) =>
      writeFileSync(
        join(dataDir, 'postgres', 'cluster', 'postmaster.pid'),
        `${pid}\n${dataDir}\n1700000000\n${port}\n\n127.0.0.1\n  1234 5678\nready   \n`,
      );

    it('reads the port and password of a server that runs', async () => {
      writePidFile(process.pid, '54321');
      expect(await runningEmbeddedDatabase(dataDir)).toMatchObject({
        url: 'postgres://postgres:pass%20word@127.0.0.1:54321/darkroom',
        pid: process.pid,
        port: 54321,
      });
    });

    it('ignores no pid file and one a dead server left', async () => {
      expect(await runningEmbeddedDatabase(dataDir)).toBeNull();
      writePidFile(2 ** 22 + 1, '54321'); // above Linux's largest pid: no such process
      expect(await runningEmbeddedDatabase(dataDir)).toBeNull();
    });
  });

  describe('on the embedded PostgreSQL (no DATABASE_URL)', () => {
    let env: NodeJS.ProcessEnv;
    let scratch: string;

    beforeAll(async () => {
      scratch = mkdtempSync(join(tmpdir(), 'darkroom-admin-embedded-'));
      // As root, PostgreSQL runs as `postgres`, which must be able to reach its data.
      chmodSync(scratch, 0o755);
      env = { DATA_DIR: scratch, EMBEDDED_PG_PORT: String(await freePort()) };
    });

    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    const pidFile = () => join(scratch, 'postgres', 'cluster', 'postmaster.pid');

    it('starts it, migrated, for the command and stops it again; or uses the one the app runs', async () => {
      const created = await runCli(
        ['--create', '--username', 'ada', '--email', 'ada@example.com', '--password-stdin'],
        env,
        piped('correct horse'),
      );
      expect(created.stderr).toBe('');
      expect(created.stdout).toBe('Created ada (user 1), ada@example.com, as an admin; sign in with POST /api/sessions for a token\n');
      expect(created.code).toBe(0);
      expect(existsSync(pidFile())).toBe(false);

      // The app (here: what main.ts opens) runs on the cluster: a second server could not start on it.
      const running = await openDatabase(loadConfig(env));
      try {
        const again = await runCli(['--username', 'ada'], env);
        expect(again).toEqual({ code: 0, stdout: 'ada (user 1) is already an admin; nothing changed\n', stderr: '' });
        // The app's server is still up, and still the one running.
        const client = new Client({ connectionString: running.url });
        await client.connect();
        const { rows } = await client.query('SELECT username, admin FROM users');
        await client.end();
        expect(rows).toEqual([{ username: 'ada', admin: true }]);
      } finally {
        await running.close();
      }
    }, 180_000);
  });
});
