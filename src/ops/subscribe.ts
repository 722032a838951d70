/**
 * Subscribe on the three services (README, "The live feed"): the request
 * checked in the README's order (ids or user, sizes, cursor shapes) before
 * any lookup, then a Subscription (src/feed) whose items become the API's
 * Event. An event the hub read is shared by every subscriber of this
 * instance, and so is its reply: made once, with its cursor, for all of them.
 */
import { AppError } from '../core/errors';
import type { Cursors } from '../core/cursors';
import type { FeedStore } from '../core/model';
import { checkIdList, checkStrings } from '../core/validate';
import type { Hub, HubEvent } from '../feed/hub';
import { decodeResumeId, encodeResumeId, HintCache, type ResumeScope } from '../feed/resume-id';
import { Subscription, type FeedItem } from '../feed/subscription';
import { messageReply, type Api } from './apis';
import { stream, type Reply, type StreamOperation } from './operation';
import type { Containers } from '../core/containers';

/** What Subscribe needs beyond the core: the instance's hub and the store's feed reads. */
export interface FeedDeps {
  hub: Hub;
  store: FeedStore;
}

interface SubscribeRequest {
  after: string[];
  userId?: string;
  [ids: string]: unknown;
}

/** Cursor encoders kept per API (one per followed container). */
const ENCODERS_KEPT = 10_000;

/**
 * The reply of a shared event, made once for every subscriber, kept on the
 * event itself (a property no one else sees): a WeakMap's entries outlive
 * every scavenge (only a full GC clears them), so a thousand events a second
 * kept their replies alive until then.
 */
const REPLY = Symbol('reply');
type Replied = HubEvent & { [REPLY]?: Reply };
const sharedReply = (e: HubEvent): Reply | undefined => (e as Replied)[REPLY];
const keepReply = (e: HubEvent, r: Reply) => Object.defineProperty(e, REPLY, { value: r, enumerable: false });

export function subscribe(api: Api, core: Containers, cursors: Cursors, feed: FeedDeps): StreamOperation {
  const L = core.limits;
  const idsField = api.ids;
  const feedList = (ns: string, id: string) => ({ ns, kind: api.kind, type: 'feed' as const, scope: id });
  /** Each followed container's cursor encoder (its hint and identity made once, not per event); forgotten past a bound. */
  const encoders = new Map<string, (position: number) => string>();
  const feedCursor = (ns: string, id: string, position: number): string => {
    const key = `${ns}\u0000${id}`;
    let enc = encoders.get(key);
    if (!enc) {
      if (encoders.size >= ENCODERS_KEPT) encoders.clear();
      encoders.set(key, (enc = cursors.encoder(feedList(ns, id))));
    }
    return enc(position);
  };

  const replyOf = (ns: string, item: FeedItem): Reply => {
    switch (item.type) {
      case 'live':
        return { type: 'live' };
      case 'resync_required':
        return { type: item.type, [api.containerId.local]: item.containerId, cursor: cursors.encode(feedList(ns, item.containerId), item.position) };
      case 'event': {
        const cached = item.shared && sharedReply(item.shared);
        if (cached) return cached;
        const e = item.entry;
        const reply: Reply = {
          type: e.type,
          [api.containerId.local]: item.containerId,
          message: e.message ? messageReply(api, e.message) : undefined,
          cursor: feedCursor(ns, item.containerId, e.position),
        };
        if (item.shared) keepReply(item.shared, reply);
        return reply;
      }
    }
  };

  return stream(async function* (req: SubscribeRequest, ctx) {
    const { ns } = ctx;
    const ids = [...new Set((req[idsField.local] as string[] | undefined) ?? [])];
    const userId = api.kind === 'chat' ? (req.userId ?? '') : '';
    const after = req.after ?? [];
    if (userId !== '' && ids.length > 0) {
      throw new AppError('INVALID_ARGUMENT', `give ${idsField.wire} or user_id, not both`, { field: 'user_id' });
    }
    if (userId === '' && ids.length === 0) throw new AppError(api.missingIds, undefined, { field: idsField.wire });
    checkIdList(idsField.wire, ids, L);
    checkStrings([{ field: 'user_id', value: userId, maxBytes: L.MAX_ID_BYTES }]);
    if (after.length > Math.max(L.MAX_IDS_PER_CALL, L.FEED_MAX_USER_CHATS)) {
      throw new AppError('TOO_MANY_IDS', `after holds at most one cursor per container`, { field: 'after' });
    }
    const afterHints = after.map((a, i) => {
      const hint = cursors.feedHint(a);
      if (hint === undefined) throw new AppError('INVALID_CURSOR', `after[${i}] is not a feed cursor`, { field: 'after' });
      return hint;
    });
    const scope: ResumeScope = { ns, kind: api.kind, scope: userId };
    const resume = ctx.resumeId ? decodeResumeId(cursors, scope, ctx.resumeId) : undefined;
    const hints = new HintCache();

    /** Where each container starts: the Last-Event-ID's positions, else the cursor matched to it by its hint. */
    const startAfter = (containers: readonly string[]): Map<string, number> => {
      const out = new Map<string, number>();
      if (resume) {
        for (const c of containers) out.set(c, resume.get(hints.get(c).toString('hex')) ?? 0);
        return out;
      }
      const byHint = new Map<string, string[]>();
      for (const c of containers) {
        const h = hints.get(c).toString('hex');
        byHint.set(h, [...(byHint.get(h) ?? []), c]);
      }
      after.forEach((a, i) => {
        let found: [string, number] | undefined;
        for (const c of byHint.get(afterHints[i]) ?? []) {
          try {
            found = [c, cursors.decode(feedList(ns, c), a, 'after')];
            break;
          } catch {
            // another container with the same hint: try the next
          }
        }
        if (!found) throw new AppError('INVALID_CURSOR', `after[${i}] is not a feed cursor of a container of this subscription`, { field: 'after' });
        if (out.has(found[0])) throw new AppError('INVALID_ARGUMENT', `after holds two cursors for one container (after[${i}])`, { field: 'after' });
        out.set(found[0], found[1]);
      });
      return out;
    };

    const sub = new Subscription(
      feed.hub,
      feed.store,
      {
        ns,
        kind: api.kind,
        ids,
        userId: userId === '' ? undefined : userId,
        startAfter,
        maxBuffered: L.FEED_MAX_BUFFERED_EVENTS,
        maxUserChats: L.FEED_MAX_USER_CHATS,
      },
      ctx.signal,
    );
    const resumeId = () => encodeResumeId(cursors, scope, sub.positions, hints);
    for await (const item of sub.items()) yield { reply: replyOf(ns, item), resumeId };
  });
}
