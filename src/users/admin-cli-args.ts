import { parseArgs } from 'node:util';

export const ADMIN_USAGE = `Usage: npm run admin -- --username <name>
         Makes an existing user an admin.
       npm run admin -- --create --username <name> --email <address> [--password-stdin]
         Creates a user who is an admin; the password is asked for in a terminal, or read from
         standard input with --password-stdin (printf '%s' "$PASSWORD" | npm run admin -- …).
Uses DATABASE_URL, or the embedded PostgreSQL under DATA_DIR (the running app's, if it runs).
`;

export type AdminCommand =
  | { action: 'help' }
  | { action: 'promote'; username: string }
  | { action: 'create'; username: string; email: string; passwordStdin: boolean };

/** A mistake on the command line: one line for the user, exit code 1. */
export class AdminCliError extends Error {}

const OPTIONS = {
  username: { type: 'string' },
  email: { type: 'string' },
  create: { type: 'boolean' },
  'password-stdin': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Reads `npm run admin` arguments; every mistake is an AdminCliError saying what is wrong. */
export function parseAdminArgs(argv: string[]): AdminCommand {
  let values: { username?: string; email?: string; create?: boolean; 'password-stdin'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new AdminCliError(describeParseError(error as Error & { code?: string }));
  }
  if (values.help) return { action: 'help' };
  const username = values.username?.trim();
  if (!username) throw new AdminCliError('--username <name> is required (see --help)');
  if (!values.create) {
    if (values.email !== undefined) throw new AdminCliError('--email goes with --create; to promote a user, give only --username');
    if (values['password-stdin']) throw new AdminCliError('--password-stdin goes with --create');
    return { action: 'promote', username };
  }
  const email = values.email?.trim();
  if (!email) throw new AdminCliError('--create needs --email <address>');
  return { action: 'create', username, email, passwordStdin: values['password-stdin'] ?? false };
}

function describeParseError(error: Error & { code?: string }): string {
  const named = /'([^' ]+)/.exec(error.message)?.[1] ?? 'an argument';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `Unknown option ${named} (see --help)`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `Unexpected argument ${named}: name the user with --username <name> (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take/.test(error.message) ? `${named} takes no value (see --help)` : `${named} needs a value (see --help)`;
    default:
      return error.message.split('\n')[0];
  }
}
