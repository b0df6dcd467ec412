import type { Response } from 'express';

/** A job event as the trigger recorded it and the listener fans it out. */
export interface JobEventMessage {
  /** The row's bigserial id, as a string (it may pass 2^53). */
  id: string;
  jobId: number;
  userId: number;
  type: string;
  data: Record<string, unknown>;
}

/** A comment every 15 s, so that proxies do not close an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** Past this many bytes the client has not read, the stream is closed; it reconnects with Last-Event-ID and misses nothing. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** How many sent ids a stream remembers to drop a duplicate (an event both replayed and heard live). */
const REMEMBERED_IDS = 10_000;
const FINAL_STATUSES = new Set(['completed', 'failed', 'cancelled']);

/**
 * One Server-Sent Events response. Events are written as `id`, `event` and `data` lines; an event
 * already sent is dropped, so replay and live delivery may overlap. A job stream (`endsWithJob`)
 * ends after the job's final `status` event, which carries its outputs, result and error.
 */
export class EventStream {
  private readonly sent = new Set<string>();
  private readonly heartbeat: NodeJS.Timeout;
  ended = false;

  constructor(
    private readonly response: Response,
    private readonly endsWithJob: boolean,
    private readonly onEnd: () => void,
  ) {
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-cache, no-transform');
    response.setHeader('Connection', 'keep-alive');
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    response.socket?.setNoDelay(true);
    response.write(': stream open\n\n');
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
    response.on('close', () => this.end());
  }

  send(event: JobEventMessage): void {
    if (this.ended || this.sent.has(event.id)) return;
    this.remember(event.id);
    this.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    this.track(event.type, event.data);
  }

  /** An event without an id (a snapshot, a notice about the replay): it does not move Last-Event-ID. */
  sendUnnumbered(type: string, data: Record<string, unknown>): void {
    if (this.ended) return;
    this.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    this.track(type, data);
  }

  /**
   * Ends the stream because this node is stopping. An EventSource reconnects by itself after
   * `retryMs`, through the load balancer to another node, with Last-Event-ID: it misses nothing.
   */
  handOver(retryMs: number): void {
    this.write(`: this node is shutting down; reconnect with Last-Event-ID\nretry: ${retryMs}\n\n`);
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    this.onEnd();
    if (!this.response.writableEnded) this.response.end();
  }

  private track(type: string, data: Record<string, unknown>): void {
    if (this.endsWithJob && type === 'status' && FINAL_STATUSES.has(String(data.status))) this.end();
  }

  private write(chunk: string): void {
    if (this.ended) return;
    this.response.write(chunk);
    if (this.response.writableLength > MAX_UNREAD_BYTES) this.end();
  }

  private remember(id: string): void {
    this.sent.add(id);
    if (this.sent.size > REMEMBERED_IDS) this.sent.delete(this.sent.values().next().value as string);
  }
}
