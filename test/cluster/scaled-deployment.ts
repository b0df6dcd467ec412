import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { dropDatabase, ensureDatabase, withDatabase } from '../../src/database/database-admin';
import { Cluster } from '../utils/faults/cluster';
import { DatabaseServer, runDatabaseUrl } from '../utils/faults/postgres';
import { API_MAIN, Env, ManagedProcess, PollAbort, pollUntil, sleep, WORKER_MAIN } from '../utils/faults/processes';
import { S3RVER_CREDENTIALS } from '../../bench/s3-server';
import { LoadBalancer } from './load-balancer';

/** One node of the deployment: a slot that its successive processes fill (a restart keeps the port and the data directory). */
export interface Node {
  name: string;
  kind: 'api' | 'worker';
  /** The node's own DATA_DIR: with STORAGE=s3, scratch space only. */
  dataDir: string;
  /** The API node's URL (its port stays the same across restarts); '' for a worker. */
  url: string;
  process: ManagedProcess | null;
  starts: number;
}

/**
 * A database server whose databases start empty, so that the nodes started together on one run
 * the migrations themselves, as a first deployment does.
 */
export function emptyDatabaseServer(): DatabaseServer {
  const admin = withDatabase(runDatabaseUrl(), 'postgres');
  return {
    description: `empty databases on ${new URL(admin).host}`,
    async createDatabase(name) {
      const database = `cluster_${name}`;
      await dropDatabase(admin, database);
      await ensureDatabase(admin, database);
      return { url: withDatabase(admin, database), drop: () => dropDatabase(admin, database) };
    },
    restart: () => {
      throw new Error('The cluster test does not restart PostgreSQL');
    },
    close: async () => undefined,
  };
}

/** The settings every node of an installation on the S3 store `endpoint` shares. */
export function s3Settings(endpoint: string, bucket: string): Env {
  return {
    STORAGE: 's3',
    S3_BUCKET: bucket,
    S3_ENDPOINT: endpoint,
    S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  };
}

/**
 * Darkroom as several machines run it, on this one: API nodes behind a load balancer and worker
 * nodes, each a real OS process started from dist/ with a DATA_DIR of its own, sharing only the
 * deployment's PostgreSQL database, its queue backend and its S3 bucket (the cluster's settings).
 */
export class ScaledDeployment {
  private constructor(
    readonly cluster: Cluster,
    readonly apis: Node[],
    readonly workers: Node[],
    readonly balancer: LoadBalancer,
    readonly url: string,
  ) {}

  /** Starts every node at the same moment (on an empty database, they race to migrate it) and the balancer. */
  static async start(cluster: Cluster, { apis = 2, workers = 3 } = {}): Promise<ScaledDeployment> {
    const node = async (kind: Node['kind'], index: number): Promise<Node> => {
      const name = `${kind}-${String.fromCharCode(97 + index)}`;
      const dataDir = join(cluster.dataDir, name);
      mkdirSync(dataDir, { recursive: true });
      return { name, kind, dataDir, url: kind === 'api' ? `http://127.0.0.1:${await freePort()}` : '', process: null, starts: 0 };
    };
    const apiNodes = await Promise.all(Array.from({ length: apis }, (_, i) => node('api', i)));
    const workerNodes = await Promise.all(Array.from({ length: workers }, (_, i) => node('worker', i)));
    const balancer = new LoadBalancer(apiNodes.map((api) => api.url));
    const deployment = new ScaledDeployment(cluster, apiNodes, workerNodes, balancer, await balancer.start());
    for (const each of [...apiNodes, ...workerNodes]) deployment.launch(each);
    await Promise.all([...apiNodes, ...workerNodes].map((each) => deployment.waitUntilServing(each)));
    return deployment;
  }

  /** Starts the node's next process, with `extra` settings on top of the deployment's. */
  launch(node: Node, extra: Env = {}): ManagedProcess {
    if (node.process?.running) throw new Error(`${node.name} is already running`);
    node.starts++;
    const settings = { DATA_DIR: node.dataDir, ...extra };
    node.process =
      node.kind === 'api'
        ? this.cluster.startProcess(node.name, API_MAIN, ['--api-only'], { ...settings, PORT: new URL(node.url).port })
        : this.cluster.startProcess(node.name, WORKER_MAIN, [], settings);
    return node.process;
  }

  /** An API node is serving once the balancer finds it ready; a worker once it logs that it serves its queues. */
  async waitUntilServing(node: Node, timeoutMs = 120_000): Promise<void> {
    const process = node.process!;
    if (node.kind === 'api') {
      await pollUntil(
        `${process.name} to be ready`,
        async () => {
          if (!process.running) throw new PollAbort(`${process.name} exited (${JSON.stringify(process.exit)}):\n${process.tail()}`);
          return this.balancer.readyNodes().includes(node.url);
        },
        timeoutMs,
        50,
      );
      return;
    }
    await pollUntil(
      `${process.name} to serve its queues`,
      async () => {
        if (!process.running) throw new PollAbort(`${process.name} exited (${JSON.stringify(process.exit)}):\n${process.tail()}`);
        return /Serving queues/.test(process.log());
      },
      timeoutMs,
      100,
    );
  }

  /** SIGKILL, then (after `downMs`) a new process on the same slot, waited for. */
  async crash(node: Node, downMs: number): Promise<void> {
    await node.process!.kill();
    await sleep(downMs);
    this.launch(node);
    await this.waitUntilServing(node);
  }

  /**
   * SIGTERM, as an orchestrator stops a node, and a new process once the old one has exited; the
   * old one must exit 0 within `timeoutMs` (an API node drains first, a worker hands back its jobs).
   */
  async restartGracefully(node: Node, timeoutMs = 60_000): Promise<void> {
    await this.stopGracefully(node, timeoutMs);
    this.launch(node);
    await this.waitUntilServing(node);
  }

  /** SIGTERM; the process must exit 0 within `timeoutMs`. */
  async stopGracefully(node: Node, timeoutMs = 60_000): Promise<void> {
    const exit = await node.process!.signal('SIGTERM', timeoutMs);
    if (!exit || exit.code !== 0) {
      throw new Error(
        `${node.process!.name} did not stop cleanly on SIGTERM within ${timeoutMs} ms: ${JSON.stringify(exit)}\n${node.process!.tail()}`,
      );
    }
  }

  async stop(): Promise<void> {
    await this.balancer.stop();
  }
}
