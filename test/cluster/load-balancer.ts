import { createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a request through the load balancer ended, as the balancer saw it. */
export type Passage = 'answered' | 'no-node' | 'cut';

/**
 * A small round-robin HTTP load balancer in front of the API nodes, doing what a Kubernetes
 * Service with readiness probes (or nginx with health checks) does:
 * - it probes each node's `/api/health/ready` every PROBE_INTERVAL_MS (each probe given
 *   PROBE_TIMEOUT_MS) and sends requests only to nodes that answered 200; a node leaves the
 *   rotation after FAILURE_THRESHOLD failed probes in a row, so that a node that is starting,
 *   draining (SIGTERM) or refusing to serve gets no traffic, while one slow probe on a busy
 *   machine does not empty the rotation;
 * - a node whose connection is refused (it died since the last probe) is skipped for that request,
 *   which goes to the next one: nothing was sent, so nothing can happen twice;
 * - a node that dies after the request was sent cuts it: the client gets 503, as from Envoy's
 *   "upstream disconnect/reset before headers", or a cut stream once the answer had begun;
 * - no ready node at all: 503.
 * It appends the client's address to X-Forwarded-For, which the nodes trust (TRUST_PROXY), so that
 * per-address limits see the clients, not the balancer.
 */
export class LoadBalancer {
  static readonly PROBE_INTERVAL_MS = 500;
  /** Past the nodes' own bound on a readiness answer (CHECK_TIMEOUT_MS, 2 s). */
  static readonly PROBE_TIMEOUT_MS = 3_000;
  static readonly FAILURE_THRESHOLD = 2;
  private readonly ready = new Map<string, boolean>();
  private readonly failures = new Map<string, number>();
  private readonly probing = new Set<string>();
  private next = 0;
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  readonly passages: Record<Passage, number> = { answered: 0, 'no-node': 0, cut: 0 };

  constructor(private readonly nodes: string[]) {
    for (const node of nodes) this.ready.set(node, false);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.route(req, res));
    // Long-polls and event streams are the nodes' business, not the balancer's.
    this.server.requestTimeout = 0;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    await this.probeAll();
    this.timer = setInterval(() => void this.probeAll(), LoadBalancer.PROBE_INTERVAL_MS);
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  readyNodes(): string[] {
    return this.nodes.filter((node) => this.ready.get(node));
  }

  /** Resolves once `node`'s readiness (as the balancer last probed it) is `ready`. */
  async waitUntil(node: string, ready: boolean, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ready.get(node) !== ready) {
      if (Date.now() > deadline) throw new Error(`${node} was not ${ready ? 'ready' : 'out of rotation'} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async probeAll(): Promise<void> {
    await Promise.all(this.nodes.filter((node) => !this.probing.has(node)).map((node) => this.probe(node)));
  }

  private async probe(node: string): Promise<void> {
    this.probing.add(node);
    let ready = false;
    try {
      const answer = await fetch(`${node}/api/health/ready`, { signal: AbortSignal.timeout(LoadBalancer.PROBE_TIMEOUT_MS) });
      await answer.arrayBuffer();
      ready = answer.status === 200;
    } catch (error) {
      // A refused connection is a node that is gone, not one that is slow: out at once.
      if ((error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') this.failures.set(node, LoadBalancer.FAILURE_THRESHOLD);
    } finally {
      this.probing.delete(node);
    }
    const failures = ready ? 0 : (this.failures.get(node) ?? 0) + 1;
    this.failures.set(node, failures);
    if (ready) this.ready.set(node, true);
    else if (failures >= LoadBalancer.FAILURE_THRESHOLD) this.ready.set(node, false);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Buffered, so that a request whose node refused the connection can go to another one whole.
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const candidates = this.rotation();
    for (const node of candidates) {
      const outcome = await this.forward(node, req, body, res);
      if (outcome !== 'refused') return;
      this.ready.set(node, false);
    }
    this.passages['no-node']++;
    res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
    res.end(JSON.stringify({ error: 'No API node is ready (load balancer)' }));
  }

  private rotation(): string[] {
    const ready = this.readyNodes();
    if (!ready.length) return [];
    const start = this.next++ % ready.length;
    return [...ready.slice(start), ...ready.slice(0, start)];
  }

  private forward(node: string, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<'done' | 'refused'> {
    const target = new URL(req.url ?? '/', node);
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    return new Promise((resolve) => {
      let answered = false;
      const upstream = request(
        target,
        {
          method: req.method,
          headers: { ...req.headers, host: target.host, 'x-forwarded-for': forwardedFor, 'content-length': String(body.length) },
        },
        (answer) => {
          answered = true;
          this.passages.answered++;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          // A node that dies in the middle of its answer cuts the client's connection too.
          answer.on('error', () => res.destroy());
          answer.on('aborted', () => res.destroy());
          answer.on('end', () => resolve('done'));
        },
      );
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (answered) return;
        if (error.code === 'ECONNREFUSED') return resolve('refused');
        this.passages.cut++;
        res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1', 'X-Load-Balancer': 'upstream-cut' });
        res.end(
          JSON.stringify({
            error: `The API node went away before answering (${error.code ?? error.message}); the request may have taken effect`,
          }),
        );
        resolve('done');
      });
      // The client went away (an event stream it stopped reading): so does the request to the node.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
        resolve('done');
      });
      upstream.end(body);
    });
  }
}
