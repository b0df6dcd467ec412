import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type pino from 'pino';
import pinoHttp from 'pino-http';
import { withLogContext } from './log-context';

/** A caller's own X-Request-Id is kept when it is a plausible id, so logs join across services. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Query parameters that carry credentials (the events stream's access token) never reach a log. */
const SECRET_QUERY = /([?&](?:access_token|token)=)[^&]*/gi;

/**
 * Gives each request an id (answered as X-Request-Id) that every log line written while serving it
 * carries, and, given a logger, logs each request's method, path, status and duration once it ends.
 */
export function requestLogging(logger?: pino.Logger): RequestHandler[] {
  const assignId: RequestHandler = (request: Request, response: Response, next: NextFunction) => {
    const offered = request.headers['x-request-id'];
    const id = typeof offered === 'string' && CALLER_REQUEST_ID.test(offered) ? offered : randomUUID();
    (request as { id?: string }).id = id;
    response.setHeader('X-Request-Id', id);
    withLogContext({ req_id: id }, next);
  };
  if (!logger) return [assignId];
  const log = pinoHttp<IncomingMessage, ServerResponse>({
    logger,
    genReqId: (request) => (request as { id?: string }).id ?? randomUUID(),
    customLogLevel: (_request, response, error) => (error || response.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (request: { method: string; url: string }) => ({ method: request.method, url: request.url.replace(SECRET_QUERY, '$1[redacted]') }),
      res: (response: { statusCode: number }) => ({ status: response.statusCode }),
    },
  });
  return [assignId, log as unknown as RequestHandler];
}
