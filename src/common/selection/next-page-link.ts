import type { Request, Response } from 'express';
import { Selection } from '../../pipelines/selection';

/**
 * A client paging with after_id gets, with every full page, `Link: <…>; rel="next"`: the same
 * URL and query with after_id moved to the page's last id. A short page is the last one, and
 * lists that do not page (newest first) carry no link.
 */
export function setNextPageLink(request: Request, response: Response, selection: Selection, rows: readonly { id: number }[]): void {
  if (selection.afterId === null || selection.limit === null || rows.length < selection.limit) return;
  const next = new URL(request.originalUrl, 'http://origin.invalid');
  next.searchParams.set('after_id', String(rows[rows.length - 1].id));
  response.setHeader('Link', `<${next.pathname}${next.search}>; rel="next"`);
}
