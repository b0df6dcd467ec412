import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as ipaddr from 'ipaddr.js';

/** What a deployment lets callback URLs be (ALLOW_HTTP_WEBHOOKS, ALLOW_PRIVATE_WEBHOOKS). */
export interface WebhookPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Where a webhook goes: the URL, and the addresses its host resolved to, every one checked. */
export interface WebhookTarget {
  url: URL;
  addresses: ResolvedAddress[];
}

export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

/** The URL is not one webhooks may be sent to; the message says why, naming `callback_url`. */
export class WebhookTargetRefused extends Error {}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_URL_LENGTH = 2048;

const systemResolver: HostResolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * The address class of `address` in ipaddr.js's words (`unicast` for a public one, `private`,
 * `loopback`, `linkLocal`, `uniqueLocal`, `multicast`, `unspecified`…). An IPv4 address written
 * as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is.
 */
export function addressRange(address: string): string {
  return ipaddr.process(address).range();
}

/**
 * Only ordinary public unicast addresses: every special range is refused, including those that
 * can lead to a private network (6to4, Teredo, NAT64, carrier-grade NAT, reserved space).
 */
export function isPublicAddress(address: string): boolean {
  return addressRange(address) === 'unicast';
}

/**
 * Checks a callback URL and resolves its host. It must be https (http only to this machine, and
 * only when the policy allows it), carry no credentials, and every address of its host must be
 * public unless the policy allows private ones (or, for such an http URL, loopback ones). The addresses returned are the ones to connect
 * to, so that a second resolution (DNS rebinding) cannot send the request elsewhere.
 */
export async function resolveWebhookTarget(
  raw: string,
  policy: WebhookPolicy,
  resolve: HostResolver = systemResolver,
): Promise<WebhookTarget> {
  if (raw.length > MAX_URL_LENGTH) throw new WebhookTargetRefused(`callback_url must be at most ${MAX_URL_LENGTH} characters long`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetRefused('callback_url must be an absolute https:// URL');
  }
  if (url.protocol === 'http:') {
    if (!policy.allowHttp || !LOCAL_HOSTS.has(url.hostname)) {
      throw new WebhookTargetRefused(
        'callback_url must be an https:// URL (http:// is accepted only for localhost, 127.0.0.1 or ::1, with ALLOW_HTTP_WEBHOOKS=true)',
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new WebhookTargetRefused('callback_url must be an absolute https:// URL');
  }
  if (url.username || url.password) throw new WebhookTargetRefused('callback_url must not carry a user name or password');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolveHost(host, resolve);
  // http:// reaches this point only for a local host under ALLOW_HTTP_WEBHOOKS, whose one purpose
  // is a receiver on this machine: its loopback addresses are the point, so that flag alone is
  // enough for them, without opening the private network and link-local (cloud metadata) too.
  const loopbackAllowed = url.protocol === 'http:';
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const range = addressRange(address);
      if (range !== 'unicast' && !(loopbackAllowed && range === 'loopback')) {
        throw new WebhookTargetRefused(
          `callback_url's host ${host} ${address === host ? 'is' : `resolves to ${address}, which is`} a ${describeRange(range)} address; ` +
            'webhooks go only to public addresses (ALLOW_PRIVATE_WEBHOOKS=true lifts this)',
        );
      }
    }
  }
  return { url, addresses: addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 })) };
}

async function resolveHost(host: string, resolve: HostResolver): Promise<{ address: string; family: number }[]> {
  const addresses = await resolve(host).catch(() => []);
  if (addresses.length === 0) throw new WebhookTargetRefused(`callback_url's host ${host} does not resolve to any address`);
  return addresses;
}

const RANGE_WORDS: Record<string, string> = {
  private: 'private',
  loopback: 'loopback',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  multicast: 'multicast',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  carrierGradeNat: 'carrier-grade NAT',
};

function describeRange(range: string): string {
  return RANGE_WORDS[range] ?? `non-public (${range})`;
}
