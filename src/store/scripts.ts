/**
 * Loads the Lua scripts in `lua/` and registers each on an ioredis client with
 * defineCommand. The file name carries the key count (`appendMessage-9.lua`:
 * nine KEYS; `-0`: a variadic script, called with the key count first). `--- @include "includes/x"` lines are replaced by that file, once
 * per script. ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT, so a
 * restarted or flushed Redis needs nothing from us; the SHA changes with the
 * text, so two releases sharing one Redis never run each other's version.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import type { Outcome } from './record';

export const LUA_DIR = join(__dirname, 'lua');

const INCLUDE = /^--- @include "([^"]+)"\s*$/gm;

export interface ScriptSource {
  name: string;
  numberOfKeys: number;
  lua: string;
}

export function loadScripts(dir = LUA_DIR): ScriptSource[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const m = /^([A-Za-z]+)-(\d+)\.lua$/.exec(file);
      if (!m) throw new Error(`Lua script name must be <name>-<numberOfKeys>.lua: ${file}`);
      return { name: m[1], numberOfKeys: Number(m[2]), lua: resolveIncludes(dir, file, new Set()) };
    });
}

function resolveIncludes(dir: string, file: string, seen: Set<string>): string {
  if (seen.has(file)) throw new Error(`Lua include cycle at ${file}`);
  seen.add(file);
  const text = readFileSync(join(dir, file), 'utf8');
  return text.replace(INCLUDE, (_line, inc: string) => resolveIncludes(dir, `${inc}.lua`, seen));
}

/**
 * The typed commands the scripts add to a client (see each script's header).
 * Scripts that can fail answer an outcome first (record.ts `outcome()`).
 */
export interface ScriptCommands {
  createContainer(
    meta: string,
    participants: string,
    joinOrder: string,
    id: string,
    group: string,
    topic: string,
    users: string,
    metadata: string,
    createdBy: string,
    parentThread: string,
    parentMessage: string,
    maxParticipants: number,
    ...participantPairs: string[]
  ): Promise<['OK', string[], string[]]>;
  participants(meta: string, participants: string, joinOrder: string, op: 'add' | 'remove', maxParticipants: number, ...args: string[]): Promise<[Outcome, string[], string[], string[]]>;
  participantPage(meta: string, joinOrder: string, participants: string, limit: number, cursorDir: '' | 'after' | 'before', cursorAt: number): Promise<[Outcome, string[], string[], number, number, string[]]>;
  threadTrash(meta: string, op: 'trash' | 'restore'): Promise<[Outcome, string[], number]>;
  groupMove(index: string, trash: string, activity: string, trashActivity: string, id: string, op: 'trash' | 'restore'): Promise<number>;
  groupFilter(numberOfKeys: number, ...keysThenArgs: string[]): Promise<number>;
  fieldExists(numberOfKeys: number, ...keysThenField: string[]): Promise<number[]>;
  updateContainer(meta: string, topic: string, metadata: string, maxKeys: number, maxBytes: number): Promise<[Outcome, string[]]>;
  deleteContainer(
    meta: string,
    order: string,
    deleted: string,
    records: string,
    feed: string,
    reads: string,
    participants: string,
    joinOrder: string,
    mode: 'delete' | 'purge',
    maxReaders: number,
  ): Promise<[Outcome, string?, string?, string?, string?, string[]?, string[]?]>;
  summary(
    meta: string,
    order: string,
    records: string,
    reads: string,
    userId: string,
    withLast: '0' | '1',
    ...fields: string[]
  ): Promise<[Outcome, (string | null)[], number, string, string, string]>;
  summaries(numberOfKeys: number, ...keysThenArgs: string[]): Promise<['OK', [Outcome, (string | null)[], number, string, string, string][]]>;
  markRead(meta: string, order: string, deleted: string, reads: string, userId: string, messageId: string): Promise<[Outcome, string[], number]>;
  inboxTouch(index: string, chatId: string, activityMicros: string): Promise<number>;
  changeMessage(
    meta: string,
    order: string,
    deleted: string,
    records: string,
    feed: string,
    op: string,
    id: string,
    text: string,
    metadata: string,
    retention: number,
    maxKeys: number,
    maxBytes: number,
  ): Promise<[Outcome, number, string, string?, string?]>;
  readMessage(meta: string, order: string, deleted: string, records: string, id: string): Promise<[Outcome, number, string]>;
  appendMessage(
    meta: string,
    order: string,
    deleted: string,
    records: string,
    feed: string,
    reads: string,
    activity: string,
    participants: string,
    updated: string,
    id: string,
    record: string,
    clientId: '0' | '1',
    retention: number,
    authorId: string,
    enforceMembership: '0' | '1',
    activityGroup: string,
    containerId: string,
  ): Promise<[Outcome, number, number, string, string, string, number, number]>;
  feedRead(
    meta: string,
    feed: string,
    records: string,
    after: string,
    count: number,
    retention: number,
    budget: number,
  ): Promise<[Outcome, number, number, string[]]>;
  listMessages(
    meta: string,
    order: string,
    deleted: string,
    records: string,
    offset: number,
    limit: number,
    dir: 'asc' | 'desc',
    sentBefore: string,
    budget: number,
    cursorDir: '' | 'after' | 'before',
    cursorAt: number,
    include: 'visible' | 'deleted' | 'all',
    part: '' | 'lengths',
  ): Promise<[Outcome, string[], number, number, number, number, string]>;
  /** The same, its strings as Buffers (ioredis's `…Buffer` twin of every script): large pages stay off the JS heap. */
  listMessagesBuffer(...args: Parameters<ScriptCommands['listMessages']>): Promise<[Buffer, Buffer[], number, number, number, number, Buffer]>;
  groupPage(index: string, order: 'asc' | 'desc', offset: number, limit: number, cursorDir: '' | 'after' | 'before', cursorAt: number): Promise<['OK', string[], string[], number, number]>;
  groupAdd(index: string, trash: string, id: string): Promise<['OK', number]>;
  deleteIfEqual(key: string, expected: string): Promise<number>;
  takeToken(bucket: string, rate: number, burst: number): Promise<[number, number]>;
}

export type ScriptedRedis = (Redis | Cluster) & ScriptCommands;

export function defineScripts(client: Redis | Cluster, scripts = loadScripts()): ScriptedRedis {
  for (const s of scripts) client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys === 0 ? undefined : s.numberOfKeys, lua: s.lua });
  return client as ScriptedRedis;
}
