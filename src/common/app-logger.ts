import { LoggerService } from '@nestjs/common';
import pino from 'pino';
import { currentLogFields } from './log-context';
import { type LogRecord, prettyLine } from './pretty-log';

/**
 * Nest's own narration of its start: a line per module loaded, per controller and per route
 * mapped, then "started". Some sixty lines that tell a newcomer nothing, so they are left out;
 * their warnings and errors are not.
 */
const NEST_START_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  format: LogFormat;
  level: LogLevel;
}

/** JSON lines for log collectors, unless a person is watching the terminal. */
export function defaultLogFormat(): LogFormat {
  return process.stdout.isTTY ? 'pretty' : 'json';
}

/**
 * The log of the API and of the worker: pino, one JSON object per line (or one readable line on a
 * terminal, see prettyLine), each line carrying the fields of the request or job it was written in.
 */
export class AppLogger implements LoggerService {
  private logger: pino.Logger;

  constructor(options: LogOptions = { format: defaultLogFormat(), level: 'info' }) {
    this.logger = createPino(options);
  }

  /** Start-up logs before the configuration is read; it then sets the format and level. */
  configure(options: LogOptions): void {
    this.logger.flush?.();
    this.logger = createPino(options);
  }

  get pino(): pino.Logger {
    return this.logger;
  }

  log(message: unknown, ...params: unknown[]): void {
    const context = contextOf(params);
    if (context && NEST_START_CONTEXTS.has(context)) return;
    this.write('info', message, context);
  }

  error(message: unknown, ...params: unknown[]): void {
    // Nest calls error(message, stack, context), error(message, context) or error(error).
    const context = contextOf(params);
    // Nest's handler reports a provider that failed at start-up; main.ts and worker.main.ts start
    // with abortOnError off and report that same error once, as a sentence when it explains itself.
    if (context === 'ExceptionHandler') return;
    const stack = params.length >= 2 && typeof params[0] === 'string' ? params[0] : undefined;
    this.write('error', message, context, stack);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, contextOf(params));
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, contextOf(params));
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, contextOf(params));
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, contextOf(params));
  }

  private write(level: pino.Level, message: unknown, context?: string, stack?: string): void {
    const fields: Record<string, unknown> = context ? { context } : {};
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (message && typeof message === 'object') {
      const { msg, ...rest } = message as { msg?: unknown };
      this.logger[level]({ ...fields, ...rest, ...(stack ? { stack } : {}) }, typeof msg === 'string' ? msg : '');
    } else {
      this.logger[level]({ ...fields, ...(stack ? { stack } : {}) }, String(message));
    }
  }
}

function contextOf(params: unknown[]): string | undefined {
  const last = params.at(-1);
  return typeof last === 'string' ? last : undefined;
}

function createPino({ format, level }: LogOptions): pino.Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    // pino merges each line's fields into what the mixin returns: a copy keeps the context unchanged.
    mixin: () => ({ ...currentLogFields() }),
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names rather than pino's numbers: what a person filtering the collected lines types.
    formatters: { level: (label) => ({ level: label }) },
  };
  const stdout = pino.destination({ sync: true });
  if (format === 'json') return pino(options, stdout);
  // One line a request and a job event, rather than pino-pretty's line per field.
  const colours = Boolean(process.stdout.isTTY);
  return pino(options, { write: (line: string) => stdout.write(`${prettyLine(JSON.parse(line) as LogRecord, colours)}\n`) });
}
