import { ConsoleLogger } from '@nestjs/common';

/**
 * Nest's own narration of its start: a line per module loaded, per controller and per route
 * mapped, then "started". Some sixty lines that tell a newcomer nothing, so they are left out;
 * their warnings and errors are not.
 */
const NEST_START_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/** The log of `npm start` and of the worker: Nest's console format, without its start-up chatter. */
export class AppLogger extends ConsoleLogger {
  constructor() {
    super({ logLevels: ['fatal', 'error', 'warn', 'log'] });
  }

  log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && NEST_START_CONTEXTS.has(context)) return;
    super.log(message, ...optionalParams);
  }
}
