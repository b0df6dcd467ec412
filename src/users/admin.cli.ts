import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { Logger } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { DataSource, Repository } from 'typeorm';
import { hashPassword } from '../identity/credentials';
import { loadConfig } from '../config/app-config';
import { dataSourceOptions } from '../database/data-source-options';
import { DatabaseConnection, openDatabase } from '../database/database';
import { runMigrations } from '../database/migrate';
import { ADMIN_USAGE, AdminCliError, AdminCommand, parseAdminArgs } from './admin-cli-args';
import { CreateUserDto } from './dto/create-user.dto';
import { User } from './user.entity';

/** The database `openDatabase` creates on the embedded server (src/database/database.ts). */
const EMBEDDED_DATABASE = 'darkroom';

export interface AdminCliIo {
  env: NodeJS.ProcessEnv;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  /** Prompts and errors. */
  stderr: Writable;
}

/**
 * `npm run admin -- --username ada [--create --email … [--password-stdin]]`: makes a user an
 * admin, or creates one. Prints what it did in one line; a mistake is one line on stderr and 1.
 */
export async function main(argv: string[], io: AdminCliIo): Promise<number> {
  try {
    const command = parseAdminArgs(argv);
    if (command.action === 'help') {
      io.stdout.write(ADMIN_USAGE);
      return 0;
    }
    // Everything the user can get wrong is checked before the database is touched.
    const config = loadConfig(io.env);
    const newUser = command.action === 'create' ? await newUserFrom(command, io) : null;
    const database = await openAdminDatabase(config);
    try {
      await runMigrations(database.url, { queueOnPostgres: !config.REDIS_URL }).catch((error: Error) => {
        throw new AdminCliError(`Could not use the database${database.hint}: ${error.message}`);
      });
      const dataSource = await new DataSource(dataSourceOptions(database.url)).initialize();
      try {
        const users = dataSource.getRepository(User);
        io.stdout.write(`${newUser ? await createAdmin(users, newUser) : await promote(users, command.username)}\n`);
      } finally {
        await dataSource.destroy();
      }
    } finally {
      await database.close();
    }
    return 0;
  } catch (error) {
    io.stderr.write(`darkroom admin: ${oneLine(error)}\n`);
    return 1;
  }
}

async function promote(users: Repository<User>, username: string): Promise<string> {
  const user = await users.findOneBy({ username });
  if (!user) throw new AdminCliError(`No user named "${username}": check the name, or create one with --create --email <address>`);
  if (user.admin) return `${describe(user)} is already an admin; nothing changed`;
  user.admin = true;
  await users.save(user);
  return `${describe(user)} is now an admin`;
}

async function createAdmin(users: Repository<User>, dto: CreateUserDto): Promise<string> {
  const taken = await users.findOne({ where: [{ username: dto.username }, { email: dto.email }] });
  if (taken?.username === dto.username) {
    throw new AdminCliError(`A user named "${dto.username}" already exists: leave out --create (and --email) to make them an admin`);
  }
  if (taken) throw new AdminCliError(`The email ${dto.email} belongs to ${describe(taken)} already`);
  const user = await users.save(
    users.create({
      username: dto.username,
      email: dto.email,
      encryptedPassword: await hashPassword(dto.password),
      admin: true,
    }),
  );
  return `Created ${describe(user)}, ${user.email}, as an admin; sign in with POST /api/sessions for a token`;
}

const describe = (user: User) => `${user.username} (user ${user.id})`;

/** The new user as sign-up would accept it: the same rules and messages. */
async function newUserFrom(command: Extract<AdminCommand, { action: 'create' }>, io: AdminCliIo): Promise<CreateUserDto> {
  const fields = { username: command.username, email: command.email };
  const check = async (password: string) => {
    const dto = plainToInstance(CreateUserDto, { ...fields, password });
    const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
    const messages = errors.flatMap((error) => Object.values(error.constraints ?? {}));
    if (messages.length) throw new AdminCliError(messages.join('; '));
    return dto;
  };
  // The name and address are checked first, so a mistake in them costs no typing of a password.
  await check('x'.repeat(8));
  return check(await readPassword(command.passwordStdin, io));
}

async function readPassword(fromStdin: boolean, io: AdminCliIo): Promise<string> {
  if (fromStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    // `echo secret |` adds a newline that is no part of the password.
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!io.stdin.isTTY) {
    throw new AdminCliError('--create needs a password: run it in a terminal to be asked, or pipe it in with --password-stdin');
  }
  const password = await promptHidden('Password: ', io.stdin as ReadStream, io.stderr);
  if ((await promptHidden('Password again: ', io.stdin as ReadStream, io.stderr)) !== password) {
    throw new AdminCliError('The two passwords differ; nothing was changed');
  }
  return password;
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(prompt: string, input: ReadStream, output: Writable): Promise<string> {
  output.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (settle: () => void) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      settle();
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish(() => resolve(value));
        if (char === '\u0003') return finish(() => reject(new AdminCliError('Cancelled; nothing was changed')));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else value += char;
      }
    };
    input.on('data', onData);
  });
}

export type AdminDatabase = DatabaseConnection & { hint: string };

/**
 * The configured database; without DATABASE_URL, the embedded one under DATA_DIR. If the app is
 * running on that one, a second server cannot start on the same files: connect to the running one.
 */
export async function openAdminDatabase(config: ReturnType<typeof loadConfig>): Promise<AdminDatabase> {
  if (!config.DATABASE_URL) {
    const running = await runningEmbeddedDatabase(config.DATA_DIR);
    if (running) {
      const hint =
        ` (the embedded PostgreSQL that ${running.pidFile} says runs as pid ${running.pid} on port ${running.port}; ` +
        'if the app is not running, that file is stale: remove it, or set DATABASE_URL)';
      return { url: running.url, close: async () => undefined, hint };
    }
  }
  return { ...(await openDatabase(config)), hint: '' };
}

/**
 * The embedded PostgreSQL under `dataDir` if a server is running on it (the app's): its pid file,
 * which PostgreSQL writes at start and removes at a clean stop, names a live process and its port.
 */
export async function runningEmbeddedDatabase(
  dataDir: string,
): Promise<{ url: string; pid: number; port: number; pidFile: string } | null> {
  const dir = join(dataDir, 'postgres');
  const pidFile = join(dir, 'cluster', 'postmaster.pid');
  let lines: string[];
  try {
    lines = (await readFile(pidFile, 'utf8')).split('\n');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  // A file left by a crash names a dead process; PostgreSQL itself replaces it at its next start.
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  if (!Number.isInteger(port) || port <= 0) {
    throw new AdminCliError(`${pidFile} names no port: wait until the app has started, or set DATABASE_URL`);
  }
  let password: string;
  try {
    password = (await readFile(join(dir, 'password'), 'utf8')).trim();
  } catch (error) {
    throw new AdminCliError(
      `The app's embedded PostgreSQL is running (pid ${pid}) but its password (${join(dir, 'password')}) cannot be read ` +
        `(${(error as Error).message}): run this as the user who started the app, stop the app, or set DATABASE_URL`,
    );
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
  return { url, pid, port, pidFile };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user (PostgreSQL runs as `postgres` when started by root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .split('\n')
    .map((line) => line.trim().replace(/^- /, ''))
    .filter(Boolean)
    .join(' ');
}

// Run as `node dist/src/users/admin.cli.js`, or required by scripts/run-built.js, which sets argv[1] to this file.
if (require.main === module || (process.argv[1] !== undefined && resolve(process.argv[1]) === __filename)) {
  // Only errors and warnings of the libraries: the answer is the one line this prints.
  Logger.overrideLogger(['error', 'warn']);
  main(process.argv.slice(2), { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then((code) =>
    process.stdout.write('', () => process.exit(code)),
  );
}
