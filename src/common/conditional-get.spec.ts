import type { IncomingHttpHeaders } from 'node:http';
import { answerStoredFile, notModified, RangeNotSatisfiableError, StoredRepresentation } from './conditional-get';

const STORED = new Date('2026-12-06T10:20:30.456Z');
const LAST_MODIFIED = 'Sun, 06 Dec 2026 10:20:30 GMT';
const ETAG = '"4be2c1f0e9d6a1b7c3e5f7091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"';
const FILE: StoredRepresentation = { bytes: 1000, etag: ETAG, lastModified: STORED };

const get = (headers: IncomingHttpHeaders, file = FILE) => answerStoredFile({ method: 'GET', headers }, file);

describe('answerStoredFile', () => {
  it('answers the whole file with its validators and Accept-Ranges when nothing is asked', () => {
    expect(get({})).toEqual({
      status: 200,
      headers: { ETag: ETAG, 'Last-Modified': LAST_MODIFIED, 'Accept-Ranges': 'bytes' },
      range: null,
      length: 1000,
    });
  });

  it('leaves Last-Modified out when the time the file was stored is not known', () => {
    expect(get({}, { ...FILE, lastModified: null }).headers).toEqual({ ETag: ETAG, 'Accept-Ranges': 'bytes' });
  });

  describe('If-None-Match', () => {
    it.each([
      ['the tag itself', ETAG],
      ['the tag marked weak (weak comparison)', `W/${ETAG}`],
      ['a list holding it', `"other", ${ETAG}`],
      ['a list without spaces holding it', `"other",${ETAG}`],
      ['*', '*'],
    ])('gives 304 with the validators for %s', (_, ifNoneMatch) => {
      expect(get({ 'if-none-match': ifNoneMatch })).toEqual({ status: 304, headers: { ETag: ETAG, 'Last-Modified': LAST_MODIFIED } });
    });

    it('gives the file for other tags', () => {
      expect(get({ 'if-none-match': '"other", W/"another"' }).status).toBe(200);
    });

    it('takes precedence over If-Modified-Since, either way (RFC 9110 §13.1.3)', () => {
      expect(get({ 'if-none-match': '"other"', 'if-modified-since': 'Mon, 07 Dec 2026 00:00:00 GMT' }).status).toBe(200);
      expect(get({ 'if-none-match': ETAG, 'if-modified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' }).status).toBe(304);
    });

    it("gives the file to an end-to-end reload (Cache-Control: no-cache), as Express's JSON answers do", () => {
      expect(get({ 'if-none-match': ETAG, 'cache-control': 'no-cache' }).status).toBe(200);
    });

    it('wins over Range: a current copy gets 304, not bytes', () => {
      expect(get({ 'if-none-match': ETAG, range: 'bytes=0-9' }).status).toBe(304);
    });
  });

  describe('If-Modified-Since', () => {
    it.each([
      ['the Last-Modified date', LAST_MODIFIED],
      ['a later date', 'Mon, 07 Dec 2026 00:00:00 GMT'],
    ])('gives 304 for %s', (_, date) => {
      expect(get({ 'if-modified-since': date }).status).toBe(304);
    });

    it.each([
      ['an earlier date', 'Sun, 06 Dec 2026 10:20:29 GMT'],
      ['a date that does not parse', 'yesterday'],
    ])('gives the file for %s', (_, date) => {
      expect(get({ 'if-modified-since': date }).status).toBe(200);
    });

    it('gives the file when there is no Last-Modified to compare with', () => {
      expect(get({ 'if-modified-since': LAST_MODIFIED }, { ...FILE, lastModified: null }).status).toBe(200);
    });
  });

  describe('Range', () => {
    it.each([
      ['bytes=0-99', 0, 99],
      ['bytes=990-2000', 990, 999],
      ['bytes=500-', 500, 999],
      ['bytes=999-999', 999, 999],
      ['bytes=-10', 990, 999],
      ['bytes=-5000', 0, 999],
      ['Bytes = 10-19', 10, 19],
    ])('answers %s with 206 and bytes %i to %i', (range, start, end) => {
      expect(get({ range })).toEqual({
        status: 206,
        headers: { ETag: ETAG, 'Last-Modified': LAST_MODIFIED, 'Accept-Ranges': 'bytes', 'Content-Range': `bytes ${start}-${end}/1000` },
        range: { start, end },
        length: end - start + 1,
      });
    });

    it.each([
      ['several ranges', 'bytes=0-9,20-29'],
      ['another unit', 'items=0-9'],
      ['a last position before the first', 'bytes=20-10'],
      ['no positions', 'bytes=-'],
      ['a negative position', 'bytes=-5-10'],
      ['no unit', '0-9'],
    ])('ignores %s: the whole file', (_, range) => {
      expect(get({ range })).toMatchObject({ status: 200, range: null, length: 1000 });
    });

    it.each([
      ['a first position past the end', 'bytes=1000-', 1000],
      ['a range past the end', 'bytes=5000-6000', 1000],
      ['an empty suffix', 'bytes=-0', 1000],
      ['any range of an empty file', 'bytes=0-', 0],
    ])('refuses %s as unsatisfiable, with the file size', (_, range, bytes) => {
      let thrown: unknown;
      try {
        get({ range }, { ...FILE, bytes });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RangeNotSatisfiableError);
      expect(thrown).toMatchObject({ size: bytes, range });
    });

    it('is ignored on HEAD, for which no range handling is defined', () => {
      expect(answerStoredFile({ method: 'HEAD', headers: { range: 'bytes=0-9' } }, FILE)).toMatchObject({ status: 200, length: 1000 });
    });
  });

  describe('If-Range', () => {
    it.each([
      ['the entity-tag', ETAG],
      ['the Last-Modified date, exactly', LAST_MODIFIED],
    ])('lets the range through when it names %s', (_, ifRange) => {
      expect(get({ range: 'bytes=0-9', 'if-range': ifRange }).status).toBe(206);
    });

    it.each([
      ['another entity-tag', '"other"'],
      ['the entity-tag marked weak (strong comparison)', `W/${ETAG}`],
      ['a later date', 'Mon, 07 Dec 2026 00:00:00 GMT'],
      ['a date that does not parse', 'yesterday'],
    ])('sends the whole file when it names %s', (_, ifRange) => {
      expect(get({ range: 'bytes=0-9', 'if-range': ifRange })).toMatchObject({ status: 200, range: null });
    });

    it('sends the whole file for a date when no Last-Modified is known', () => {
      expect(get({ range: 'bytes=0-9', 'if-range': LAST_MODIFIED }, { ...FILE, lastModified: null }).status).toBe(200);
    });
  });
});

describe('notModified', () => {
  it('holds for a matching If-None-Match, and never for a request without conditions', () => {
    expect(notModified({ 'if-none-match': `W/${ETAG}` }, { ETag: ETAG })).toBe(true);
    expect(notModified({}, { ETag: ETAG })).toBe(false);
  });
});
