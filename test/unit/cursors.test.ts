/**
 * Cursors (src/core/cursors.ts): the per-list encoder the live feed signs
 * every event's cursor with makes exactly the strings `encode` makes, and
 * they decode to their position in their list only.
 */
import { randomBytes } from 'node:crypto';
import { Cursors, type ListId } from '../../src/core/cursors';

const cursors = new Cursors(randomBytes(32));
const lists: ListId[] = [
  { ns: 'default', kind: 'thread', type: 'feed', scope: 'th-1' },
  { ns: 'tenant:ü', kind: 'chat', type: 'feed', scope: 'c/2\u0000x' },
  { ns: 'default', kind: 'thread', type: 'messages', scope: 'th-1' },
  { ns: 'default', kind: 'conversation', type: 'containers', scope: 'group' },
];

it('encoder(list)(position) is encode(list, position), and decodes to it', () => {
  for (const list of lists) {
    const enc = cursors.encoder(list);
    for (const position of [0, 1, 127, 128, 65_535, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const c = enc(position);
      expect(c).toBe(cursors.encode(list, position));
      expect(cursors.decode(list, c, 'after')).toBe(position);
    }
  }
});

it("an encoder's cursor is another list's INVALID_CURSOR", () => {
  const c = cursors.encoder(lists[0])(42);
  expect(() => cursors.decode({ ...lists[0], scope: 'th-2' }, c, 'after')).toThrow(expect.objectContaining({ id: 'INVALID_CURSOR' }));
  expect(() => cursors.decode({ ...lists[0], ns: 'other' }, c, 'after')).toThrow(expect.objectContaining({ id: 'INVALID_CURSOR' }));
});
