import { ArgumentsHost, Logger } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ApiExceptionFilter } from './api-exception.filter';

function answer(exception: unknown): { status: number; body: unknown } {
  const sent = { status: 0, body: undefined as unknown };
  const response = {
    headersSent: false,
    setHeader: () => undefined,
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  new ApiExceptionFilter().catch(exception, host);
  return sent;
}

function databaseError(code: string, message: string, statement: string): QueryFailedError {
  return new QueryFailedError(
    statement,
    ['secret-parameter'],
    Object.assign(new Error(message), { code, column: 'environment', table: 'jobs' }),
  );
}

describe('ApiExceptionFilter and values the database refuses', () => {
  let logged: jest.SpyInstance;

  beforeEach(() => {
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => logged.mockRestore());

  it.each([
    ['22P02', 'invalid input syntax for type integer: "x"'],
    ['22003', 'value "99999999999" is out of range for type integer'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P05', 'unsupported Unicode escape sequence'],
  ])('answers %s with 422 and logs it as an error, with the statement and not its parameters', (code, message) => {
    const { status, body } = answer(databaseError(code, message, 'INSERT INTO jobs (environment)\n   VALUES ($1)'));
    expect({ status, body }).toEqual({ status: 422, body: { error: 'A value is out of range or of the wrong form', details: [] } });
    expect(logged).toHaveBeenCalledTimes(1);
    const line = String(logged.mock.calls[0][0]);
    expect(line).toContain(`${code} ${message}`);
    expect(line).toContain('table jobs, column environment');
    expect(line).toContain('Statement: INSERT INTO jobs (environment) VALUES ($1)');
    expect(line).not.toContain('secret-parameter');
  });

  it('logs nothing for a constraint the client broke (a duplicate)', () => {
    const duplicate = new QueryFailedError(
      'INSERT INTO users',
      [],
      Object.assign(new Error('duplicate'), { code: '23505', detail: 'Key (username)=(ada) already exists.' }),
    );
    expect(answer(duplicate).status).toBe(422);
    expect(logged).not.toHaveBeenCalled();
  });
});
