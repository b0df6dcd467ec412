import { otherLaneLimit, type QueueStanding, queueWait } from './queue-wait';

const NOW = new Date('2026-12-06T12:00:00Z');
const pending = (overrides: Partial<QueueStanding> = {}): QueueStanding => ({
  lane: 'interactive',
  dispatched: false,
  dispatchedAhead: 0,
  pendingAhead: 0,
  otherLaneAhead: 0,
  startedRecently: 0,
  paused: false,
  runAfter: null,
  ...overrides,
});

describe('otherLaneLimit', () => {
  it('lets about BULK_SHARE percent of the dispatches go to bulk while both lanes wait', () => {
    // 20 %: one bulk job for every four interactive ones.
    expect(otherLaneLimit('interactive', 8, 20)).toBe(2);
    expect(otherLaneLimit('bulk', 2, 20)).toBe(8);
    expect(otherLaneLimit('interactive', 0, 20)).toBe(0);
    expect(otherLaneLimit('bulk', 0, 20)).toBe(0);
    expect(otherLaneLimit('interactive', 10, 50)).toBe(10);
  });

  it('puts all interactive work first with BULK_SHARE=0, and all bulk work first with 100', () => {
    expect(otherLaneLimit('interactive', 5, 0)).toBe(0);
    expect(otherLaneLimit('bulk', 0, 0)).toBe(Infinity);
    expect(otherLaneLimit('interactive', 0, 100)).toBe(Infinity);
    expect(otherLaneLimit('bulk', 5, 100)).toBe(0);
  });
});

describe('queueWait', () => {
  it('counts, for a dispatched job, only the entries dispatched before it', () => {
    const standing = pending({ dispatched: true, dispatchedAhead: 3, pendingAhead: 99, otherLaneAhead: 99 });
    expect(queueWait(standing, NOW).ahead).toBe(3);
  });

  it('counts, for a pending job, every dispatched job, its turns ahead and the other lane', () => {
    expect(queueWait(pending({ dispatchedAhead: 4, pendingAhead: 6, otherLaneAhead: 2 }), NOW).ahead).toBe(12);
  });

  it('gives no estimate when nothing started in the last minute, or while the queue is paused', () => {
    expect(queueWait(pending({ pendingAhead: 5 }), NOW)).toEqual({ ahead: 5, estimatedStartAt: null });
    expect(queueWait(pending({ pendingAhead: 5, startedRecently: 60, paused: true }), NOW)).toEqual({ ahead: 5, estimatedStartAt: null });
  });

  it('estimates the start at the rate jobs started over the last minute', () => {
    // 30 starts a minute: one every 2 s, so 5 jobs ahead start within 10 s.
    expect(queueWait(pending({ pendingAhead: 5, startedRecently: 30 }), NOW).estimatedStartAt).toEqual(new Date('2026-12-06T12:00:10Z'));
    expect(queueWait(pending({ startedRecently: 30 }), NOW).estimatedStartAt).toEqual(NOW);
    expect(queueWait(pending({ pendingAhead: 1, startedRecently: 7 }), NOW).estimatedStartAt).toEqual(new Date(NOW.getTime() + 8571));
  });

  it("waits at least for a retry's backoff", () => {
    const runAfter = new Date('2026-12-06T12:01:00Z');
    expect(queueWait(pending({ pendingAhead: 5, startedRecently: 30, runAfter }), NOW).estimatedStartAt).toEqual(runAfter);
    expect(queueWait(pending({ pendingAhead: 300, startedRecently: 30, runAfter }), NOW).estimatedStartAt).toEqual(
      new Date('2026-12-06T12:10:00Z'),
    );
  });
});
