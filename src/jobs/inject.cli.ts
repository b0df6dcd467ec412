import 'reflect-metadata';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SingleBar } from 'cli-progress';
import { Principal } from '../identity/principal';
import { InvalidInputError } from '../pipelines/invalid-input.error';
import { loadConfig } from '../config/app-config';
import { runMigrations } from '../database/migrate';
import { openAdminDatabase } from '../users/admin.cli';
import { InjectionSummaryDto } from './dto/injection-summary.dto';
import { INJECT_USAGE, optionOf, parseInjectArgs } from './inject-cli-args';
import { JobInjectorCliModule } from './job-injector-cli.module';
import { InjectionProgress, JobInjectorService } from './job-injector.service';

export interface InjectCliIo {
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  /** The progress bar (on a terminal only) and errors. */
  stderr: Writable & { isTTY?: boolean };
}

/** Bad options (exit 2) are told apart from a failure to run (exit 1): a script can tell a typo from an outage. */
const EXIT_BAD_OPTIONS = 2;

/**
 * `npm run inject -- --job-sequence process,grayscale,histogram [--image-type original] …`: the
 * injector, as POST /api/jobs/inject.json runs it for an admin. Prints a summary on stdout.
 */
export async function main(argv: string[], io: InjectCliIo): Promise<number> {
  let command: Awaited<ReturnType<typeof parseInjectArgs>>;
  try {
    command = await parseInjectArgs(argv);
  } catch (error) {
    return badOptions(error, io);
  }
  if (command.action === 'help') {
    io.stdout.write(INJECT_USAGE);
    return 0;
  }
  try {
    const config = loadConfig(io.env);
    const database = await openAdminDatabase(config);
    try {
      await runMigrations(database.url, { queueOnPostgres: !config.REDIS_URL }).catch((error: Error) => {
        throw new Error(`Could not use the database${database.hint}: ${error.message}`);
      });
      const app = await NestFactory.createApplicationContext(JobInjectorCliModule.forRoot(config, database.url), {
        logger: ['error', 'warn'],
      });
      try {
        const bar = io.stderr.isTTY ? progressBar(io.stderr) : undefined;
        const summary = await app
          .get(JobInjectorService)
          .inject(Principal.adminToken(), command.dto, bar?.progress)
          .finally(() => bar?.stop());
        io.stdout.write(describe(InjectionSummaryDto.from(summary)));
      } finally {
        await app.close();
      }
    } finally {
      await database.close();
    }
    return 0;
  } catch (error) {
    if (error instanceof InvalidInputError) return badOptions(error, io);
    io.stderr.write(`darkroom inject: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function badOptions(error: unknown, io: InjectCliIo): number {
  if (!(error instanceof InvalidInputError)) throw error;
  for (const detail of error.details) {
    const option = detail.field === 'arguments' ? '' : `${optionOf(detail.field)}: `;
    io.stderr.write(`darkroom inject: ${option}${detail.message}\n`);
  }
  io.stderr.write('See npm run inject -- --help\n');
  return EXIT_BAD_OPTIONS;
}

function describe(summary: InjectionSummaryDto): string {
  const created = summary.dry_run
    ? `0 (dry run: ${summary.force ? summary.images_matched : summary.missing} would be created)`
    : String(summary.jobs_created);
  return [
    `Job: ${summary.job_sequence.join(',')} ${JSON.stringify(summary.params)}${summary.force ? ' (force)' : ''}`,
    `Images matched:  ${summary.images_matched}`,
    `Already done:    ${summary.already_done}`,
    `Already pending: ${summary.already_pending}`,
    `Jobs created:    ${created}`,
    '',
  ].join('\n');
}

function progressBar(stream: Writable): { progress: InjectionProgress; stop(): void } {
  const bar = new SingleBar({
    stream,
    format: 'Scanning images [{bar}] {percentage}% {value}/{total} images, {eta_formatted} left',
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = false;
  return {
    progress: {
      start: (total) => {
        started = true;
        bar.start(total, 0);
      },
      advance: (scanned) => bar.update(scanned),
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

// Run as `node dist/src/jobs/inject.cli.js`, or required by scripts/run-built.js, which sets argv[1] to this file.
if (require.main === module || (process.argv[1] !== undefined && resolve(process.argv[1]) === __filename)) {
  // Only errors and warnings of the libraries: the answer is the summary this prints.
  Logger.overrideLogger(['error', 'warn']);
  main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then((code) =>
    process.stdout.write('', () => process.exit(code)),
  );
}
