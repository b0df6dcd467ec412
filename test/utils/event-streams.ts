import { createParser } from 'eventsource-parser';

export interface ReceivedEvent {
  id?: string;
  event?: string;
  data: Record<string, any>;
  /** performance.timeOrigin + performance.now() when the client parsed it. */
  receivedAt: number;
}

export interface StreamAnswer {
  status: number;
  headers: Headers;
  events: ReceivedEvent[];
  comments: string[];
  /** The `retry:` fields' values, in milliseconds: the reconnection delay the server asked for. */
  retries: number[];
  /** The server ended the stream (as opposed to the client stopping). */
  ended: boolean;
  /** The JSON body of an answer that is not a stream (an error). */
  body?: any;
}

export interface ReadOptions {
  headers?: Record<string, string>;
  /** The client stops reading (and disconnects) once this returns true. */
  until?: (events: ReceivedEvent[]) => boolean;
  /** Hears each event as it arrives. */
  onEvent?: (event: ReceivedEvent) => void;
  /** Hears each comment as it arrives (`stream open` first). */
  onComment?: (comment: string) => void;
  timeoutMs?: number;
}

/** Reads an event stream with fetch, as any non-browser client would, parsing it with eventsource-parser. */
export async function readEventStream(url: string, options: ReadOptions = {}): Promise<StreamAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`No end of ${url} within ${options.timeoutMs ?? 60_000} ms`)),
    options.timeoutMs ?? 60_000,
  );
  try {
    const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...options.headers }, signal: controller.signal });
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      return {
        status: response.status,
        headers: response.headers,
        events: [],
        comments: [],
        retries: [],
        ended: true,
        body: await response.json(),
      };
    }
    const events: ReceivedEvent[] = [];
    const comments: string[] = [];
    const retries: number[] = [];
    const parser = createParser({
      onEvent: (message) => {
        const event = {
          id: message.id,
          event: message.event,
          data: JSON.parse(message.data),
          receivedAt: performance.timeOrigin + performance.now(),
        };
        events.push(event);
        options.onEvent?.(event);
      },
      onComment: (comment) => {
        comments.push(comment.trim());
        options.onComment?.(comment.trim());
      },
      onRetry: (retry) => retries.push(retry),
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      if (options.until?.(events)) {
        await reader.cancel();
        return { status: response.status, headers: response.headers, events, comments, retries, ended: false };
      }
      const { done, value } = await reader.read();
      if (done) return { status: response.status, headers: response.headers, events, comments, retries, ended: true };
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    clearTimeout(timer);
  }
}
