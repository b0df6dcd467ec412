import { dispatchOrder, PendingJob, UserInFlight } from './dispatch-order';

const rules = { bulkShare: 0.2, userCap: 0 };
const none = new Map<number, UserInFlight>();
const jobs = (userId: number, lane: PendingJob['lane'], ...ids: number[]): PendingJob[] => ids.map((id) => ({ id, userId, lane }));
const ids = (order: PendingJob[]) => order.map((job) => job.id);

describe('dispatchOrder', () => {
  it('gives users turns within a lane, whoever queued first and most', () => {
    const pending = [...jobs(1, 'interactive', 1, 2, 3, 4), ...jobs(2, 'interactive', 50, 51), ...jobs(3, 'interactive', 90)];
    expect(ids(dispatchOrder(pending, 7, { queue: 0, bulk: 0 }, none, rules))).toEqual([1, 50, 90, 2, 51, 3, 4]);
  });

  it('between users with as many jobs in flight, serves the one served longest ago', () => {
    const pending = [...jobs(1, 'interactive', 1, 2), ...jobs(2, 'interactive', 50, 51)];
    const users = new Map([
      [1, { queue: 2, all: 2, lastDispatch: 10 }],
      [2, { queue: 2, all: 2, lastDispatch: 5 }],
    ]);
    expect(ids(dispatchOrder(pending, 4, { queue: 4, bulk: 0 }, users, rules))).toEqual([50, 1, 51, 2]);
  });

  it('takes turns when a cap leaves nothing in flight between passes: the user served last waits', () => {
    const pending = [...jobs(1, 'interactive', 2, 3), ...jobs(2, 'interactive', 9)];
    const users = new Map([
      [1, { queue: 0, all: 0, lastDispatch: 100 }],
      [2, { queue: 0, all: 0, lastDispatch: 0 }],
    ]);
    expect(ids(dispatchOrder(pending, 1, { queue: 0, bulk: 0 }, users, rules))).toEqual([9]);
  });

  it('first serves the user with the fewest jobs in flight', () => {
    const pending = [...jobs(1, 'interactive', 1, 2), ...jobs(2, 'interactive', 50, 51)];
    const users = new Map([[1, { queue: 3, all: 3, lastDispatch: 1 }]]);
    expect(ids(dispatchOrder(pending, 4, { queue: 3, bulk: 0 }, users, rules))).toEqual([50, 51, 1, 2]);
  });

  it('puts interactive work before bulk, keeping bulk its share of what is in flight', () => {
    const pending = [...jobs(1, 'bulk', 1, 2, 3, 4, 5, 6), ...jobs(2, 'interactive', 50, 51, 52, 53, 54, 55, 56, 57, 58, 59)];
    const order = dispatchOrder(pending, 10, { queue: 0, bulk: 0 }, none, rules);
    expect(order.map((job) => job.lane)).toEqual([
      'interactive',
      'interactive',
      'interactive',
      'interactive',
      'bulk',
      'interactive',
      'interactive',
      'interactive',
      'interactive',
      'bulk',
    ]);
    expect(ids(dispatchOrder(pending, 2, { queue: 8, bulk: 2 }, none, rules))).toEqual([50, 51]);
  });

  it('gives bulk work every entry when no interactive work waits, and none at a share of 0 while some does', () => {
    const bulk = jobs(1, 'bulk', 1, 2, 3);
    expect(ids(dispatchOrder(bulk, 3, { queue: 0, bulk: 0 }, none, rules))).toEqual([1, 2, 3]);
    const both = [...bulk, ...jobs(2, 'interactive', 9)];
    expect(ids(dispatchOrder(both, 2, { queue: 0, bulk: 0 }, none, { ...rules, bulkShare: 0 }))).toEqual([9, 1]);
  });

  it("keeps a requeued job's place in its user's turn: first among its user's, not ahead of anyone else", () => {
    const pending = [...jobs(1, 'interactive', 7, 40, 41), ...jobs(2, 'interactive', 30, 31)];
    const users = new Map([[2, { queue: 1, all: 1, lastDispatch: 5 }]]);
    expect(ids(dispatchOrder(pending, 5, { queue: 1, bulk: 0 }, users, rules))).toEqual([7, 30, 40, 31, 41]);
  });

  it('holds a user at USER_CONCURRENCY, counting their jobs in every queue', () => {
    const pending = [...jobs(1, 'interactive', 1, 2, 3), ...jobs(2, 'interactive', 50)];
    const users = new Map([[1, { queue: 0, all: 1, lastDispatch: 0 }]]);
    expect(ids(dispatchOrder(pending, 4, { queue: 0, bulk: 0 }, users, { ...rules, userCap: 2 }))).toEqual([1, 50]);
  });

  it('dispatches nothing without room', () => {
    expect(dispatchOrder(jobs(1, 'interactive', 1), 0, { queue: 0, bulk: 0 }, none, rules)).toEqual([]);
  });
});
