import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** One event of a job's stream: `status` at each change of status, `progress` at each finished step. */
export interface JobEvent {
  type: string;
  /** Absent on events that are not replayed (a snapshot, a notice). */
  id?: string;
  data: Record<string, unknown>;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** Reconnections in a row that bring no event before the stream is given up on. */
const MAX_EMPTY_CONNECTIONS = 5;

/**
 * The events of one job until it is final, over Server-Sent Events read with fetch (so the bearer
 * token goes in a header, which EventSource cannot send). A stream that ends before the job does
 * (its node shutting down, a proxy's timeout) is reopened with Last-Event-ID: nothing is missed or
 * repeated.
 */
export async function* jobEvents(fetchStream: (lastEventId: string | undefined) => Promise<Response>): AsyncGenerator<JobEvent> {
  let lastEventId: string | undefined;
  for (let empty = 0; empty < MAX_EMPTY_CONNECTIONS;) {
    const response = await fetchStream(lastEventId);
    if (!response.ok || !response.body) {
      throw new Error(`The job's event stream answered ${response.status}: ${await response.text().catch(() => '')}`);
    }
    const messages: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (message) => messages.push(message) });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let received = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
        for (let message = messages.shift(); message; message = messages.shift()) {
          received = true;
          if (message.id) lastEventId = message.id;
          const event: JobEvent = { type: message.event ?? 'message', id: message.id, data: JSON.parse(message.data) };
          yield event;
          if (event.type === 'status' && FINAL.has(String(event.data.status))) return;
        }
      }
    } finally {
      // Also when the caller stops early (break, an abort): the connection is closed, not left open.
      await reader.cancel().catch(() => undefined);
    }
    empty = received ? 0 : empty + 1;
  }
  throw new Error(`The job's event stream closed ${MAX_EMPTY_CONNECTIONS} times in a row without an event`);
}
