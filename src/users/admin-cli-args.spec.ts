import { AdminCliError, parseAdminArgs } from './admin-cli-args';

describe('parseAdminArgs (npm run admin)', () => {
  it('promotes with --username, in either spelling', () => {
    expect(parseAdminArgs(['--username', 'ada'])).toEqual({ action: 'promote', username: 'ada' });
    expect(parseAdminArgs(['--username=ada'])).toEqual({ action: 'promote', username: 'ada' });
  });

  it('creates with --create, --username and --email, the password from a prompt or stdin', () => {
    expect(parseAdminArgs(['--create', '--username', 'ada', '--email', 'ada@example.com'])).toEqual({
      action: 'create',
      username: 'ada',
      email: 'ada@example.com',
      passwordStdin: false,
    });
    expect(parseAdminArgs(['--username=ada', '--email=ada@example.com', '--create', '--password-stdin'])).toMatchObject({
      action: 'create',
      passwordStdin: true,
    });
  });

  it('answers --help and -h with the usage, whatever else is given', () => {
    expect(parseAdminArgs(['--help'])).toEqual({ action: 'help' });
    expect(parseAdminArgs(['-h', '--username', 'ada'])).toEqual({ action: 'help' });
  });

  it.each([
    [[], '--username <name> is required (see --help)'],
    [['--username', ''], '--username <name> is required (see --help)'],
    [['--username'], '--username needs a value (see --help)'],
    [['--username', '--create'], '--username needs a value (see --help)'],
    [['--create=yes', '--username', 'ada'], '--create takes no value (see --help)'],
    [['--name', 'ada'], 'Unknown option --name (see --help)'],
    [['-u', 'ada'], 'Unknown option -u (see --help)'],
    [['ada'], 'Unexpected argument ada: name the user with --username <name> (see --help)'],
    [['--username', 'ada', '--email', 'ada@example.com'], '--email goes with --create; to promote a user, give only --username'],
    [['--username', 'ada', '--password-stdin'], '--password-stdin goes with --create'],
    [['--create', '--username', 'ada'], '--create needs --email <address>'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseAdminArgs(argv)).toThrow(new AdminCliError(message));
  });
});
