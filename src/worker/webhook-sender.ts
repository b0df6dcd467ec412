import { Injectable } from '@nestjs/common';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { AppConfig } from '../config/app-config';
import { ResolvedAddress, resolveWebhookTarget, WebhookTarget, WebhookTargetRefused } from '../webhooks/webhook-address';
import type { AttemptOutcome } from '../webhooks/webhook-attempt.entity';

/** A receiver must answer within this time, body included. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

export interface SendResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * POSTs one webhook. The URL is checked again now, as at the job's creation, so that a host that
 * has since been pointed at a private address (DNS rebinding) is refused; the connection then
 * goes to the very address that was checked, not to a second resolution. Redirects are not
 * followed: a 3xx is an answer like any other non-2xx.
 */
@Injectable()
export class WebhookSender {
  constructor(private readonly config: AppConfig) {}

  async send(url: string, body: string, headers: Record<string, string>, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<SendResult> {
    const started = performance.now();
    const result = (outcome: AttemptOutcome, statusCode: number | null, error: string | null): SendResult => ({
      outcome,
      statusCode,
      error,
      durationMs: Math.round(performance.now() - started),
    });
    let target: WebhookTarget;
    try {
      target = await resolveWebhookTarget(url, {
        allowHttp: this.config.ALLOW_HTTP_WEBHOOKS,
        allowPrivate: this.config.ALLOW_PRIVATE_WEBHOOKS,
      });
    } catch (error) {
      if (error instanceof WebhookTargetRefused) return result('refused', null, error.message);
      throw error;
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const status = await post(target, body, headers, timeout);
      return status >= 200 && status < 300 ? result('delivered', status, null) : result('http_error', status, `Answered HTTP ${status}`);
    } catch (error) {
      if (timeout.aborted) return result('timeout', null, `No complete answer within ${timeoutMs / 1000} s`);
      return result('network_error', null, (error as Error).message);
    }
  }
}

/** A lookup that answers only the addresses already checked, in whichever form the socket asks for. */
function pinnedLookup(target: WebhookTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) (callback as (error: null, addresses: ResolvedAddress[]) => void)(null, target.addresses);
    else callback(null, target.addresses[0].address, target.addresses[0].family);
  };
}

/** The status code of the answer, once its body has been read (and dropped). */
function post(target: WebhookTarget, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<number> {
  const transport = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      target.url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinnedLookup(target),
        // A connection of its own: a pooled one could have been opened to an address checked earlier.
        agent: false,
        signal,
      },
      (response) => {
        response.on('error', reject);
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.resume();
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
