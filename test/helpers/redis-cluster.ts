/**
 * A real three-node Redis Cluster on 127.0.0.1 for one test file: three
 * redis-servers in cluster mode (free client and bus ports, own temp folders),
 * the 16384 slots split between them, joined with CLUSTER MEET. Resolves once
 * every node reports the cluster healthy.
 */
import { startRedis, type TestRedis } from './redis';
import { workerPort } from './ports';

export interface TestCluster {
  nodes: TestRedis[];
  /** host:port of every node, as REDIS_CLUSTER_NODES takes them. */
  seeds: string[];
  stop(): Promise<void>;
}

const SLOTS = 16384;

export async function startCluster(size = 3): Promise<TestCluster> {
  const nodes: TestRedis[] = [];
  const busPorts: number[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const bus = await workerPort();
      busPorts.push(bus);
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(bus)]));
    }
    const admin = nodes.map((n) => n.client());
    const per = Math.ceil(SLOTS / size);
    for (let i = 0; i < size; i++) {
      await admin[i].call('CLUSTER', 'ADDSLOTSRANGE', String(i * per), String(Math.min(SLOTS, (i + 1) * per) - 1));
    }
    for (let i = 1; i < size; i++) await admin[0].call('CLUSTER', 'MEET', '127.0.0.1', String(nodes[i].port), String(busPorts[i]));
    const until = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(admin.map((c) => c.call('CLUSTER', 'INFO') as Promise<string>));
      if (infos.every((t) => t.includes('cluster_state:ok') && t.includes(`cluster_known_nodes:${size}`))) break;
      if (Date.now() > until) throw new Error(`cluster did not become healthy:\n${infos.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
