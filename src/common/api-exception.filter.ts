import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { QueryFailedError } from 'typeorm';
import { ErrorBody, ErrorDetail } from './api-errors';
import { RangeNotSatisfiableError } from './conditional-get';
import { QuotaExceededError } from './quota-exceeded.error';
import { InvalidInputError } from '../pipelines/invalid-input.error';

interface PgError {
  code?: string;
  detail?: string;
  column?: string;
  constraint?: string;
  table?: string;
  where?: string;
}

/**
 * Data exceptions a value sent to the database causes: too long (22001), out of range (22003), of
 * the wrong form (22P02, 22007, 22008), or text PostgreSQL cannot store (22021, 22P05).
 */
const REFUSED_VALUE_CODES = new Set(['22001', '22003', '22P02', '22007', '22008', '22021', '22P05']);

/** The longest part of a statement a log line quotes. */
const QUOTED_STATEMENT_CHARS = 500;

function isRefusedValue(exception: unknown): exception is QueryFailedError {
  return exception instanceof QueryFailedError && REFUSED_VALUE_CODES.has((exception.driverError as PgError).code ?? '');
}

/** What the database refused and in which statement; not the parameters, which may hold secrets. */
function refusedValueReport(exception: QueryFailedError): string {
  const error = exception.driverError as PgError;
  const where = [error.table && `table ${error.table}`, error.column && `column ${error.column}`, error.where].filter(Boolean).join(', ');
  const statement = exception.query.replace(/\s+/g, ' ').trim();
  const quoted = statement.length > QUOTED_STATEMENT_CHARS ? `${statement.slice(0, QUOTED_STATEMENT_CHARS)}…` : statement;
  return `An input reached the database unchecked and was refused (${error.code} ${exception.message}${where ? `; ${where}` : ''}), answered 422; check it before the database does. Statement: ${quoted}`;
}

/** Turns every failure into the API's JSON error shape, `{ error, details }`. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { status, body } = describeError(exception);
    if (status >= 500) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    } else if (isRefusedValue(exception)) {
      // Every input is checked before it is written or compared: a value the database refuses is
      // one that slipped past the checks, answered 422 but logged so that its check gets written.
      this.logger.error(refusedValueReport(exception));
    }
    if (!response.headersSent) {
      if (status === HttpStatus.UNAUTHORIZED) response.setHeader('WWW-Authenticate', 'Bearer');
      // The rest of a refused oversized body is not worth reading: close once the answer is sent.
      if (status === HttpStatus.PAYLOAD_TOO_LARGE) response.setHeader('Connection', 'close');
      // The one place a client learns the file's size after asking for bytes past it (RFC 9110 §15.5.17).
      if (exception instanceof RangeNotSatisfiableError) response.setHeader('Content-Range', `bytes */${exception.size}`);
      response.status(status).json(body);
    }
  }
}

/**
 * The status and body an error is answered with; also the per-item answer of a batch
 * (POST /api/jobs/batch), so that an item fails exactly as the same body would on its own.
 */
export function describeError(exception: unknown): { status: number; body: ErrorBody } {
  if (exception instanceof InvalidInputError) {
    return { status: HttpStatus.UNPROCESSABLE_ENTITY, body: { error: exception.message, details: exception.details } };
  }
  if (exception instanceof RangeNotSatisfiableError) {
    return {
      status: HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
      body: { error: exception.message, details: [{ field: 'Range', message: exception.message }] },
    };
  }
  if (exception instanceof QuotaExceededError) {
    const status = exception.quota === 'jobs' ? HttpStatus.TOO_MANY_REQUESTS : HttpStatus.PAYLOAD_TOO_LARGE;
    return { status, body: { error: exception.message, details: [] } };
  }
  if (exception instanceof HttpException) {
    return { status: exception.getStatus(), body: httpExceptionBody(exception) };
  }
  if (exception instanceof QueryFailedError) {
    const described = describeDatabaseError(exception.driverError as PgError);
    if (described) return described;
  }
  const bodyParserError = describeBodyParserError(exception);
  if (bodyParserError) return bodyParserError;
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    body: { error: 'Internal server error', details: [] },
  };
}

function httpExceptionBody(exception: HttpException): ErrorBody {
  const response = exception.getResponse();
  if (typeof response === 'string') {
    return { error: response, details: [] };
  }
  const { error, message, details } = response as { error?: unknown; message?: unknown; details?: ErrorDetail[] };
  // Nest's own exceptions put the human text in `message` and the status name in `error`.
  const text = typeof message === 'string' ? message : Array.isArray(message) ? message.join('; ') : error;
  return { error: String(text ?? exception.message), details: Array.isArray(details) ? details : [] };
}

const UNIQUE_KEY_DETAIL = /^Key \((?:lower\()?"?([a-z_]+)"?\)?\)=\((.*)\) already exists\.$/;
const MISSING_REFERENCE_DETAIL = /^Key \(([a-z_]+)\)=\((.*)\) is not present in table "([a-z_]+)"\.$/;
const REFERENCED_BY_DETAIL = /is (?:still )?referenced from table "([a-z_]+)"/;

/** Constraint violations are the client's doing (a duplicate, a dangling reference): never a 500. */
function describeDatabaseError(error: PgError): { status: number; body: ErrorBody } | undefined {
  switch (error.code) {
    case '23505': {
      const match = UNIQUE_KEY_DETAIL.exec(error.detail ?? '');
      const field = match?.[1] ?? error.constraint ?? 'unknown';
      const message = `${field} has already been taken`;
      return { status: HttpStatus.UNPROCESSABLE_ENTITY, body: { error: message, details: [{ field, message }] } };
    }
    case '23001':
    case '23503': {
      const referencedBy = REFERENCED_BY_DETAIL.exec(error.detail ?? '');
      if (referencedBy) {
        const message = `This record is still used by ${referencedBy[1]}; remove those first`;
        return { status: HttpStatus.CONFLICT, body: { error: message, details: [] } };
      }
      const field = MISSING_REFERENCE_DETAIL.exec(error.detail ?? '')?.[1] ?? 'reference';
      const message = `${field} does not name an existing record`;
      return { status: HttpStatus.UNPROCESSABLE_ENTITY, body: { error: message, details: [{ field, message }] } };
    }
    case '22001':
    case '22003':
    case '22P02':
    case '22007':
    case '22008':
    case '22021':
    case '22P05': {
      const message = 'A value is out of range or of the wrong form';
      return { status: HttpStatus.UNPROCESSABLE_ENTITY, body: { error: message, details: [] } };
    }
    default:
      return undefined;
  }
}

/** Express's body parser reports malformed or oversized bodies with a `type` and a status. */
function describeBodyParserError(exception: unknown): { status: number; body: ErrorBody } | undefined {
  const error = exception as { type?: string; status?: number; message?: string; limit?: number };
  switch (error?.type) {
    case 'entity.parse.failed':
      return {
        status: HttpStatus.BAD_REQUEST,
        body: { error: `Malformed JSON body: ${error.message}`, details: [] },
      };
    case 'entity.too.large':
      return {
        status: HttpStatus.PAYLOAD_TOO_LARGE,
        body: { error: `Request body is larger than the ${error.limit}-byte limit`, details: [] },
      };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: HttpStatus.UNSUPPORTED_MEDIA_TYPE, body: { error: String(error.message), details: [] } };
    default:
      return undefined;
  }
}
