import { Logger } from '@nestjs/common';
import { Client } from 'pg';

const RECONNECT_DELAY_MS = 1000;

export interface PgListenerOptions {
  /** The PostgreSQL to listen on. */
  url: string;
  channel: string;
  /** Names the channel in the warnings logged while it is lost. */
  description: string;
  onNotify(payload: string | undefined): void;
  /**
   * Each time the channel is listened to: at start (`reconnected` false), and after every
   * reconnection, when notices sent meanwhile were lost and the caller must make up for them.
   * A failure counts as a failed connection: it is retried.
   */
  onListening?(reconnected: boolean): Promise<void> | void;
}

/**
 * One connection LISTENing on one PostgreSQL channel, for a process's lifetime: on losing it (a
 * restart, a network cut), it reconnects every second until it can LISTEN again, then tells the
 * caller, since NOTIFY keeps nothing for a listener that was away.
 */
export class PgListener {
  private readonly logger: Logger;
  private client: Client | null = null;
  private closed = false;
  private reconnecting = false;

  constructor(private readonly options: PgListenerOptions) {
    this.logger = new Logger(`PgListener ${options.channel}`);
  }

  /** Listens, or throws if the first connection fails (a process should not start without it). */
  async start(): Promise<void> {
    await this.connect(false);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }

  private async connect(reconnected: boolean): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.options.url });
    client.on('notification', ({ payload }) => this.options.onNotify(payload));
    client.on('error', (error) => this.logger.warn(`Lost the ${this.options.description} channel (${error.message}); reconnecting`));
    client.on('end', () => {
      if (this.client !== client) return;
      this.client = null;
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      await this.options.onListening?.(reconnected);
    } catch (error) {
      this.client = null;
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  /** One reconnection loop at a time, however many events announce the loss. */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    setTimeout(() => {
      this.connect(true)
        .then(() => (this.reconnecting = false))
        .catch(() => {
          this.reconnecting = false;
          this.scheduleReconnect();
        });
    }, RECONNECT_DELAY_MS).unref();
  }
}
