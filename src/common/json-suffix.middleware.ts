import type { NextFunction, Request, Response } from 'express';

/**
 * The seed's route map names every route with a `.json` suffix (`/api/users/7.json`). Routes are
 * declared once, without it; this strips the suffix before routing so both spellings reach them.
 */
export function stripJsonSuffix(req: Request, _res: Response, next: NextFunction): void {
  const queryStart = req.url.indexOf('?');
  const path = queryStart === -1 ? req.url : req.url.slice(0, queryStart);
  if (path.startsWith('/api/') && path.endsWith('.json')) {
    req.url = path.slice(0, -'.json'.length) + (queryStart === -1 ? '' : req.url.slice(queryStart));
  }
  next();
}
