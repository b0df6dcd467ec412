import { HostResolver, isPublicAddress, resolveWebhookTarget, WebhookTargetRefused } from './webhook-address';

const strict = { allowHttp: false, allowPrivate: false };
const local = { allowHttp: true, allowPrivate: true };
/** A resolver answering from a table: no DNS traffic. */
const resolver =
  (table: Record<string, string[]>): HostResolver =>
  async (hostname) =>
    (table[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('isPublicAddress', () => {
  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:93.184.215.14'])('takes the public address %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'IPv6 multicast'],
    ['::ffff:10.0.0.1', 'a private IPv4 address written as IPv6'],
    ['::ffff:127.0.0.1', 'loopback written as IPv6'],
    ['2002:a00:1::', '6to4 (can lead to 10.0.0.1)'],
  ])('refuses %s (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('resolveWebhookTarget', () => {
  const publicHost = resolver({ 'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] });

  it('takes an https URL whose host has only public addresses, and answers them all, to connect to', async () => {
    const target = await resolveWebhookTarget('https://hooks.example.com/darkroom?x=1', strict, publicHost);
    expect(target.url.href).toBe('https://hooks.example.com/darkroom?x=1');
    expect(target.addresses).toEqual([
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
  });

  it.each([
    ['https://10.0.0.7/hook', 'is a private address'],
    ['https://169.254.169.254/latest/meta-data', 'is a link-local address'],
    ['https://[::1]:8443/hook', 'is a loopback address'],
    ['https://[fd00::5]/hook', 'is a unique-local address'],
    ['https://0.0.0.0/hook', 'is a unspecified address'],
  ])('refuses %s without resolving anything', async (url, why) => {
    const lookups: string[] = [];
    const spy: HostResolver = async (hostname) => {
      lookups.push(hostname);
      return [];
    };
    await expect(resolveWebhookTarget(url, strict, spy)).rejects.toThrow(why);
    expect(lookups).toEqual([]);
  });

  it('refuses a host with any private address among its public ones (DNS rebinding, split answers)', async () => {
    const mixed = resolver({ 'rebind.example.com': ['93.184.215.14', '192.168.0.10'] });
    await expect(resolveWebhookTarget('https://rebind.example.com/', strict, mixed)).rejects.toThrow(
      "callback_url's host rebind.example.com resolves to 192.168.0.10, which is a private address",
    );
  });

  it('refuses a host that does not resolve', async () => {
    await expect(resolveWebhookTarget('https://nowhere.example.com/', strict, resolver({}))).rejects.toThrow(
      "callback_url's host nowhere.example.com does not resolve to any address",
    );
  });

  it.each([
    ['not a url', 'callback_url must be an absolute https:// URL'],
    ['/relative/path', 'callback_url must be an absolute https:// URL'],
    ['ftp://hooks.example.com/', 'callback_url must be an absolute https:// URL'],
    ['http://hooks.example.com/', 'callback_url must be an https:// URL'],
    ['https://user:pw@hooks.example.com/', 'callback_url must not carry a user name or password'],
    [`https://hooks.example.com/${'a'.repeat(2048)}`, 'callback_url must be at most 2048 characters long'],
  ])('refuses %s', async (url, message) => {
    await expect(resolveWebhookTarget(url, local, publicHost)).rejects.toThrow(new WebhookTargetRefused(message).message);
  });

  it('takes http only for this machine, and only when ALLOW_HTTP_WEBHOOKS is on', async () => {
    const loopback = resolver({ localhost: ['127.0.0.1'] });
    await expect(resolveWebhookTarget('http://127.0.0.1:8080/hook', { allowHttp: false, allowPrivate: true }, loopback)).rejects.toThrow(
      'http:// is accepted only for localhost, 127.0.0.1 or ::1, with ALLOW_HTTP_WEBHOOKS=true',
    );
    const addressesOf = async (url: string) => (await resolveWebhookTarget(url, local, loopback)).addresses;
    expect(await addressesOf('http://127.0.0.1:8080/hook')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(await addressesOf('http://[::1]:8080/hook')).toEqual([{ address: '::1', family: 6 }]);
    expect(await addressesOf('http://localhost:8080/hook')).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('takes a receiver on this machine with ALLOW_HTTP_WEBHOOKS alone, and no other non-public address', async () => {
    const httpOnly = { allowHttp: true, allowPrivate: false };
    const hosts = resolver({ localhost: ['127.0.0.1', '::1'] });
    expect((await resolveWebhookTarget('http://127.0.0.1:8080/hook', httpOnly, hosts)).addresses).toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
    expect((await resolveWebhookTarget('http://[::1]:8080/hook', httpOnly, hosts)).addresses).toEqual([{ address: '::1', family: 6 }]);
    expect((await resolveWebhookTarget('http://localhost:8080/hook', httpOnly, hosts)).addresses).toHaveLength(2);
    // A "localhost" that resolves elsewhere is judged by where it leads.
    await expect(resolveWebhookTarget('http://localhost:8080/hook', httpOnly, resolver({ localhost: ['10.0.0.7'] }))).rejects.toThrow(
      "callback_url's host localhost resolves to 10.0.0.7, which is a private address",
    );
    // https to a loopback address is no local receiver's case: it still needs ALLOW_PRIVATE_WEBHOOKS.
    await expect(resolveWebhookTarget('https://127.0.0.1:8443/hook', httpOnly, hosts)).rejects.toThrow('is a loopback address');
    await expect(resolveWebhookTarget('https://169.254.169.254/latest/meta-data/', httpOnly, hosts)).rejects.toThrow(
      'is a link-local address',
    );
  });
});
