import type { Request, Response } from 'express';
import { parseSelection, SELECTION_KEYS } from '../../pipelines/selection';
import { setNextPageLink } from './next-page-link';

/** The Link header setNextPageLink writes for a request to `url` answered with rows of these ids. */
function linkFor(url: string, ids: number[]): string | undefined {
  const query = Object.fromEntries(new URL(url, 'http://host.invalid').searchParams);
  const headers = new Map<string, string>();
  const response = { setHeader: (name: string, value: string) => headers.set(name, value) } as unknown as Response;
  setNextPageLink(
    { originalUrl: url } as Request,
    response,
    parseSelection(query, SELECTION_KEYS),
    ids.map((id) => ({ id })),
  );
  return headers.get('Link');
}

describe('setNextPageLink', () => {
  it('points a full page at the next one: same path and query, after_id moved to its last id', () => {
    expect(linkFor('/api/images.json?after_id=0&n=3&include=histogram', [4, 9, 12])).toBe(
      '</api/images.json?after_id=12&n=3&include=histogram>; rel="next"',
    );
    expect(linkFor('/api/jobs?status=failed&n=2&after_id=40', [41, 57])).toBe('</api/jobs?status=failed&n=2&after_id=57>; rel="next"');
  });

  it('leaves out the link after a short page, and on lists that do not page', () => {
    expect(linkFor('/api/images.json?after_id=0&n=3', [4, 9])).toBeUndefined();
    expect(linkFor('/api/images.json?after_id=0&n=3', [])).toBeUndefined();
    expect(linkFor('/api/images.json?n=2', [12, 9])).toBeUndefined();
    expect(linkFor('/api/images.json?after_id=0&n=all', [4, 9])).toBeUndefined();
  });

  it('pages at the default size when n is not given', () => {
    const ids = Array.from({ length: 20 }, (_, index) => index + 1);
    expect(linkFor('/api/users?after_id=0', ids)).toBe('</api/users?after_id=20>; rel="next"');
  });
});
