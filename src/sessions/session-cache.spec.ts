import type { SessionRepository } from './session.repository';
import { loadConfig } from '../config/app-config';
import { MAX_CACHED_SESSIONS, parseAuthNotice, SessionCache } from './session-cache';

const cacheOf = (seconds: string) => new SessionCache({} as SessionRepository, loadConfig({ AUTH_CACHE_SECONDS: seconds }));
const ada = { sessionId: 1, userId: 10, admin: false };
const adaPhone = { sessionId: 2, userId: 10, admin: false };
const bob = { sessionId: 3, userId: 20, admin: true };

describe('parseAuthNotice', () => {
  it('reads sessions, users, and takes anything else as "clear everything"', () => {
    expect(parseAuthNotice('s:1,2,30')).toEqual({ sessions: [1, 2, 30] });
    expect(parseAuthNotice('u:7')).toEqual({ users: [7] });
    expect(parseAuthNotice('*')).toBe('all');
    expect(parseAuthNotice(undefined)).toBe('all');
    expect(parseAuthNotice('s:')).toBe('all');
    expect(parseAuthNotice('x:1')).toBe('all');
  });
});

describe('SessionCache', () => {
  afterEach(() => jest.useRealTimers());

  it('keeps a lookup for AUTH_CACHE_SECONDS, then forgets it', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const cache = cacheOf('30');
    cache.put('a', ada, cache.begin());
    expect(cache.get('a')).toEqual(ada);
    jest.setSystemTime(1_000_000 + 29_999);
    expect(cache.get('a')).toEqual(ada);
    jest.setSystemTime(1_000_000 + 30_000);
    expect(cache.get('a')).toBeNull();
    expect(cache.size).toBe(0);
  });

  it('keeps nothing when AUTH_CACHE_SECONDS is 0', () => {
    const cache = cacheOf('0');
    expect(cache.enabled).toBe(false);
    cache.put('a', ada, cache.begin());
    expect(cache.get('a')).toBeNull();
  });

  it('forgets the sessions named, or every session of the users named, or everything', () => {
    const cache = cacheOf('30');
    const fill = () =>
      [
        ['a', ada],
        ['p', adaPhone],
        ['b', bob],
      ].forEach(([key, session]) => cache.put(key as string, session as typeof ada, cache.begin()));
    fill();
    cache.apply(parseAuthNotice('s:2'));
    expect([cache.get('a'), cache.get('p'), cache.get('b')]).toEqual([ada, null, bob]);
    fill();
    cache.forgetUser(10);
    expect([cache.get('a'), cache.get('p'), cache.get('b')]).toEqual([null, null, bob]);
    fill();
    cache.apply('all');
    expect(cache.size).toBe(0);
  });

  it('does not keep a lookup that began before something was cleared: it may have read the old row', () => {
    const cache = cacheOf('30');
    const began = cache.begin();
    cache.forgetSession(99);
    cache.put('a', ada, began);
    expect(cache.get('a')).toBeNull();
    cache.put('a', ada, cache.begin());
    expect(cache.get('a')).toEqual(ada);
  });

  it('holds at most MAX_CACHED_SESSIONS entries, dropping the oldest', () => {
    const cache = cacheOf('30');
    for (let i = 0; i <= MAX_CACHED_SESSIONS; i++) cache.put(`k${i}`, { ...ada, sessionId: i }, cache.begin());
    expect(cache.size).toBe(MAX_CACHED_SESSIONS);
    expect(cache.get('k0')).toBeNull();
    expect(cache.get(`k${MAX_CACHED_SESSIONS}`)).toMatchObject({ sessionId: MAX_CACHED_SESSIONS });
  });
});
