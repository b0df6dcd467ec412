import type { Response } from 'express';
import { EventStream } from './event-stream';
import { JobEventHub } from './job-event-hub';
import type { JobEventRepository } from './job-event.repository';

/** The little of a Response an event stream uses, keeping what it wrote and whether it ended. */
function fakeResponse() {
  const written: string[] = [];
  const response = {
    writableEnded: false,
    writableLength: 0,
    status: () => response,
    setHeader: () => response,
    flushHeaders: () => undefined,
    write: (chunk: string) => written.push(chunk),
    end: () => void (response.writableEnded = true),
    on: () => response,
  };
  return { response: response as unknown as Response, text: () => written.join(''), ended: () => response.writableEnded };
}

const retryOf = (text: string) => Number(/^retry: (\d+)$/m.exec(text)?.[1]);

describe('JobEventHub at shutdown', () => {
  const repository = { listener: () => ({ start: async () => undefined, close: async () => undefined }) } as unknown as JobEventRepository;

  it('ends every open stream asking its client to reconnect within 0.5 to 3 s, and a stream opened later at once', async () => {
    const hub = new JobEventHub(repository);
    const open = [fakeResponse(), fakeResponse(), fakeResponse()];
    for (const { response } of open) {
      const untrack = hub.track(new EventStream(response, false, () => untrack()));
    }

    await hub.beforeApplicationShutdown();
    for (const { text, ended } of open) {
      expect(ended()).toBe(true);
      expect(text()).toContain(': this node is shutting down; reconnect with Last-Event-ID\n');
      expect(retryOf(text())).toBeGreaterThanOrEqual(500);
      expect(retryOf(text())).toBeLessThan(3000);
    }

    const late = fakeResponse();
    hub.track(new EventStream(late.response, true, () => undefined));
    expect(late.ended()).toBe(true);
    expect(retryOf(late.text())).toBeGreaterThanOrEqual(500);
  });
});
