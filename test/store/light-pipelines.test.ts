/**
 * The store's pipelines (src/store/light-pipelines.ts) against a real Redis:
 * the same fields as ioredis's own Pipeline constructor sets (so an ioredis
 * upgrade that changes the constructor fails here), no own `length` accessor
 * (the hidden class of its own that kept every call's objects alive through
 * scavenges), and commands, scripts, a flushed script cache and explicit
 * pipelines working through them with auto-pipelining on.
 */
import { Redis } from 'ioredis';
import Pipeline from 'ioredis/built/Pipeline';
import { lightPipelines } from '../../src/store/light-pipelines';
import { startRedis, type TestRedis } from '../helpers/redis';

const SCRIPT = { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" };
type Scripted = Redis & { bump(key: string, by: number): Promise<number> };

let redis: TestRedis;
let client: Scripted;
beforeAll(async () => {
  redis = await startRedis();
  client = lightPipelines(new Redis(redis.url, { enableAutoPipelining: true, lazyConnect: true })) as Scripted;
  client.defineCommand('bump', SCRIPT);
  await client.connect();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const own = (o: object) => Object.getOwnPropertyNames(o);

it('a light pipeline has the fields of ioredis\'s own, and its copied functions on a shared prototype instead of an own `length` accessor', () => {
  const real = new Pipeline(client) as unknown as Record<string, unknown>;
  const light = client.pipeline() as unknown as Record<string, unknown>;
  expect(light).toBeInstanceOf(Pipeline);

  // ioredis's constructor copies each script and added command onto the instance, and defines `length`.
  const copied = own(real).filter((k) => typeof real[k] === 'function' && k !== 'resolve' && k !== 'reject');
  expect(copied).toEqual(expect.arrayContaining(['bump', 'bumpBuffer']));
  const fields = own(real).filter((k) => !copied.includes(k) && k !== 'length' && k !== '_shaToScript');
  expect(own(light).sort()).toEqual(fields.sort());
  for (const k of fields) {
    const [a, b] = [real[k], light[k]];
    if (a instanceof Promise || typeof a === 'function') expect(typeof b).toBe(typeof a);
    else if (a instanceof Set) expect([...(b as Set<unknown>)]).toEqual([...a]);
    else if (a !== null && typeof a === 'object' && k !== 'redis' && k !== 'options') expect(b).toEqual(a);
    else expect(b).toBe(a);
  }
  for (const k of copied) expect(light[k]).toBe(real[k]);
  expect(light._shaToScript).toEqual(real._shaToScript);

  // The point: no accessor of its own, and `length` still counts the queue.
  expect(Object.getOwnPropertyDescriptor(real, 'length')?.get).toBeInstanceOf(Function);
  expect(Object.getOwnPropertyDescriptor(light, 'length')).toBeUndefined();
  const p = client.pipeline();
  expect(p.length).toBe(0);
  p.set('lp:len', '1').get('lp:len');
  expect(p.length).toBe(2);
  return p.exec();
});

it('auto-pipelined commands and scripts in one turn, a flushed script cache, and explicit pipelines answer as before', async () => {
  await client.del('lp:a', 'lp:n');
  const [set, bumped, got, again] = await Promise.all([client.set('lp:a', 'x'), client.bump('lp:n', 2), client.get('lp:a'), client.bump('lp:n', 3)]);
  expect([set, bumped, got, again]).toEqual(['OK', 2, 'x', 5]);

  // EVALSHA answered NOSCRIPT: ioredis falls back to EVAL, through the same pipeline.
  await redis.client().script('FLUSH');
  expect(await Promise.all([client.bump('lp:n', 1), client.bump('lp:n', 1)])).toEqual([6, 7]);

  expect(await client.pipeline([['set', 'lp:b', 'y'], ['get', 'lp:b']]).exec()).toEqual([
    [null, 'OK'],
    [null, 'y'],
  ]);
  const err = await client.pipeline().set('lp:c', 'z').incr('lp:c').exec();
  expect(err?.[0]).toEqual([null, 'OK']);
  expect(err?.[1][0]).toBeInstanceOf(Error);
});

it('scripts defined after the first pipeline reach later ones', async () => {
  client.pipeline();
  client.defineCommand('twice', { numberOfKeys: 0, lua: 'return tonumber(ARGV[1]) * 2' });
  expect(await (client as unknown as { twice(n: number): Promise<number> }).twice(21)).toBe(42);
  expect(typeof (client.pipeline() as unknown as Record<string, unknown>).twice).toBe('function');
});
