/**
 * One page of a group's threads under filters (README, "A richer thread"):
 * a walk over one or two sorted sets (the "sources": a filter index, or the
 * group's live and trash orders merged) in the page's order, from the cursor,
 * each candidate checked against the thread's own record. The sources only
 * propose candidates; the record decides, so an index entry left stale by an
 * interrupted follow-up is skipped, never shown.
 *
 * The walk reads a page and one more candidates first, then twice as many
 * each round (up to WALK_BATCH), and stops once it has one match past the
 * page (or the sources end), so its cost is bounded by the
 * smallest source the caller picked, never by the group (the caller picks the
 * filter index with the fewest entries).
 */
import type { Container, KeysetCursor, Page } from '../core/model';

/** Candidates read from each source in a round: the first round a page and one more, then twice the last, up to this. */
const WALK_BATCH = 256;

export interface WalkSource {
  /** Up to `count` members with scores beyond `from` (exclusive; null: from the start) in the direction, within [lo, hi]. */
  read(key: string, ascending: boolean, from: number | null, count: number, lo: number, hi: number): Promise<[string, number][]>;
  /** The threads (null when absent) and whether each passes the filter, in the order given. */
  check(ids: string[]): Promise<(Container | null)[]>;
}

export interface WalkRequest {
  sources: string[];
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
  cursor?: KeysetCursor;
  /** Score bounds (inclusive) the candidates can lie in. */
  lo: number;
  hi: number;
}

/** Walks `sources` merged, in one direction, from `from`, yielding [id, score] of the threads `check` keeps. */
async function* matches(src: WalkSource, keys: string[], ascending: boolean, from: number | null, lo: number, hi: number, first: number): AsyncGenerator<[Container, number]> {
  let batchSize = Math.min(first, WALK_BATCH);
  const buffers = keys.map(() => [] as [string, number][]);
  const positions: (number | null)[] = keys.map(() => from);
  const done = keys.map(() => false);
  const seen = new Set<string>();
  for (;;) {
    await Promise.all(
      keys.map(async (key, i) => {
        if (buffers[i].length > 0 || done[i]) return;
        const got = await src.read(key, ascending, positions[i], batchSize, lo, hi);
        if (got.length < batchSize) done[i] = true;
        if (got.length > 0) positions[i] = got[got.length - 1][1];
        buffers[i] = got;
      }),
    );
    // Merge: take candidates in order while every source that may hold a nearer one has a head.
    const batch: [string, number][] = [];
    for (;;) {
      let best = -1;
      for (let i = 0; i < keys.length; i++) {
        if (buffers[i].length === 0) {
          if (!done[i]) {
            best = -2; // this source must be read before the merge can go on
            break;
          }
          continue;
        }
        if (best === -1 || (ascending ? buffers[i][0][1] < buffers[best][0][1] : buffers[i][0][1] > buffers[best][0][1])) best = i;
      }
      if (best < 0) break;
      const head = buffers[best].shift()!;
      if (!seen.has(head[0])) {
        seen.add(head[0]);
        batch.push(head);
      }
    }
    batchSize = Math.min(batchSize * 2, WALK_BATCH);
    if (batch.length > 0) {
      const found = await src.check(batch.map((b) => b[0]));
      for (let i = 0; i < batch.length; i++) {
        const c = found[i];
        if (c) yield [c, batch[i][1]];
      }
    }
    if (done.every((d, i) => d && buffers[i].length === 0)) return;
  }
}

export async function filteredPage(src: WalkSource, req: WalkRequest): Promise<Page<Container>> {
  const { limit, order, cursor } = req;
  const inOrder = order === 'asc';
  const backwards = cursor?.dir === 'before';
  const ascending = backwards ? !inOrder : inOrder;
  const found: [Container, number][] = [];
  let skip = cursor ? 0 : req.offset;
  for await (const m of matches(src, req.sources, ascending, cursor ? cursor.at : null, req.lo, req.hi, skip + limit + 1)) {
    if (skip > 0) {
      skip--;
      continue;
    }
    found.push(m);
    if (found.length > limit) break;
  }
  const hasMore = found.length > limit;
  const page = found.slice(0, limit);
  if (backwards) page.reverse();
  let followsLast = !backwards && hasMore;
  if (backwards && page.length > 0) {
    // The page ends next to the cursor: does any match follow its last item?
    const next = matches(src, req.sources, inOrder, page[page.length - 1][1], req.lo, req.hi, 1);
    followsLast = !(await next.next()).done;
    await next.return(undefined);
  }
  return { items: page.map((p) => p[0]), positions: page.map((p) => p[1]), hasMore, followsLast };
}
