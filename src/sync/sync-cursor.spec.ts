import { decodeCursor, encodeCursor, isAfter, START, type SyncCursor } from './sync-cursor';

describe('sync cursor', () => {
  it('decodes what it encoded, 64-bit transaction ids included', () => {
    const cursors: SyncCursor[] = [
      { position: START, floor: 0n },
      { position: START, floor: 812n },
      { position: { xid: 4_294_967_297n, kind: 'image', id: 17 }, floor: 0n },
      { position: { xid: 2n ** 63n - 1n, kind: 'job', id: 2_147_483_647 }, floor: 2n ** 63n - 1n },
    ];
    for (const cursor of cursors) expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it('is opaque and URL-safe', () => {
    const text = encodeCursor({ position: { xid: 123_456n, kind: 'job', id: 99 }, floor: 0n });
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(text).not.toContain('123456');
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['padded', `${encodeCursor({ position: START, floor: 0n })}=`],
    ['another version', Buffer.from('2:1:image:1:0').toString('base64url')],
    ['an unknown kind', Buffer.from('1:1:user:1:0').toString('base64url')],
    ['a leading zero', Buffer.from('1:01:image:1:0').toString('base64url')],
    ['a negative id', Buffer.from('1:1:image:-1:0').toString('base64url')],
    ['an id past 32 bits', Buffer.from('1:1:image:2147483648:0').toString('base64url')],
    ['a transaction id past 63 bits', Buffer.from('1:9223372036854775808:image:1:0').toString('base64url')],
    ['a missing part', Buffer.from('1:1:image:1').toString('base64url')],
    ['a timestamp', '2026-12-06T21:00:00Z'],
  ])('refuses %s', (_, text) => {
    expect(decodeCursor(text)).toBeNull();
  });

  it('orders positions by transaction, then kind, then id', () => {
    expect(isAfter({ xid: 2n, kind: '', id: 0 }, { xid: 1n, kind: 'job', id: 9 })).toBe(true);
    expect(isAfter({ xid: 1n, kind: 'job', id: 1 }, { xid: 1n, kind: 'image', id: 9 })).toBe(true);
    expect(isAfter({ xid: 1n, kind: 'image', id: 1 }, { xid: 1n, kind: '', id: 0 })).toBe(true);
    expect(isAfter({ xid: 1n, kind: 'image', id: 2 }, { xid: 1n, kind: 'image', id: 2 })).toBe(false);
    expect(isAfter(START, { xid: 1n, kind: '', id: 0 })).toBe(false);
  });
});
