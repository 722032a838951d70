/**
 * ioredis pipelines that the young generation can collect.
 *
 * With auto-pipelining every command goes through a Pipeline (one per
 * event-loop turn), and ioredis 5's Pipeline constructor gives each instance an
 * own `length` accessor whose getter closes over the pipeline. An accessor
 * defined on one object gives that object a hidden class of its own, and V8
 * allocates hidden classes in the old generation: the old class holds the
 * getter, the getter the pipeline, the pipeline its commands, their promises
 * and whatever waits on them (the caller's whole call). A scavenge treats
 * everything an old object points to as alive, so all of it is copied, then
 * promoted, and only the next full GC frees it. Measured on the service at
 * 1,000 CreateMessage/s: 1.1–1.7 MB promoted per scavenge (every scavenge
 * 3–7 ms, a full GC every 2–4 s with pauses of 10–40 ms); with these
 * pipelines 0.09 MB, scavenges of 1–2 ms (bench/README.md, "Live feed").
 *
 * `lightPipelines(client)` makes the client's `pipeline()` (which
 * auto-pipelining calls) build the same object without that accessor: the
 * fields ioredis's constructor sets, in its order, on an object whose
 * prototype chain is a per-client prototype (the script and added-command
 * functions the constructor copies onto every instance, and `length` as one
 * shared getter) over ioredis's own Pipeline.prototype, so every method is
 * ioredis's. ioredis is pinned (package.json); test/store/light-pipelines
 * checks the fields against the real constructor's and the commands through
 * them, so an upgrade that changes the constructor fails there.
 */
import type { Cluster, Redis } from 'ioredis';
import Pipeline from 'ioredis/built/Pipeline';

type Client = Redis | Cluster;

interface Internals {
  options: unknown;
  isCluster?: boolean;
  scriptsSet: Record<string, { sha: string }>;
  addedBuiltinSet: Set<string>;
  [name: string]: unknown;
}

/** The per-client prototype, rebuilt when commands were defined since. */
const prototypes = new WeakMap<Client, { commands: number; proto: object }>();

function prototypeFor(client: Client): object {
  const c = client as unknown as Internals;
  const scripts = Object.keys(c.scriptsSet);
  const commands = scripts.length + c.addedBuiltinSet.size;
  const known = prototypes.get(client);
  if (known && known.commands === commands) return known.proto;
  const proto: Record<string, unknown> = Object.create(Pipeline.prototype, {
    length: {
      get(this: { _queue: unknown[] }) {
        return this._queue.length;
      },
      configurable: true,
    },
  });
  const shaToScript: Record<string, unknown> = {};
  for (const name of scripts) {
    shaToScript[c.scriptsSet[name].sha] = c.scriptsSet[name];
    proto[name] = c[name];
    proto[`${name}Buffer`] = c[`${name}Buffer`];
  }
  for (const name of c.addedBuiltinSet) {
    proto[name] = c[name];
    proto[`${name}Buffer`] = c[`${name}Buffer`];
  }
  // Written once by the constructor and never read by ioredis 5.11: shared, not per pipeline.
  proto._shaToScript = shaToScript;
  prototypes.set(client, { commands, proto });
  return proto;
}

/** What ioredis's Pipeline constructor sets, in its order, minus the own accessor and the copied functions. */
function lightPipeline(this: Client, commands?: unknown[][]): Pipeline {
  const c = this as unknown as Internals;
  const p = Object.create(prototypeFor(this)) as Record<string, unknown>;
  // Commander's constructor
  p.options = {};
  p.scriptsSet = {};
  p.addedBuiltinSet = new Set<string>();
  // Pipeline's
  p.redis = this;
  p.isPipeline = true;
  p.replyPending = 0;
  p._queue = [];
  p._result = [];
  p._transactions = 0;
  p.isCluster = this.constructor.name === 'Cluster' || c.isCluster;
  p.options = c.options;
  p.promise = new Promise((resolve, reject) => {
    p.resolve = resolve;
    p.reject = reject;
  });
  const pipeline = p as unknown as Pipeline;
  if (Array.isArray(commands)) pipeline.addBatch(commands);
  return pipeline;
}

/** Makes `client.pipeline()` (and so auto-pipelining) build light pipelines; returns the client. */
export function lightPipelines<C extends Client>(client: C): C {
  (client as unknown as { pipeline: typeof lightPipeline }).pipeline = lightPipeline;
  return client;
}
