import fc from 'fast-check';
import { chatSetKey, containerKeys, escapeId, groupKeys } from '../../src/store/keys';

/** The hash tag Redis Cluster hashes: the first {...} with something inside. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return key.slice(open + 1, close);
}

describe('escapeId', () => {
  it('is injective: two different ids never give the same escaped form', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        fc.pre(a !== b);
        expect(escapeId(a)).not.toBe(escapeId(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('never lets a key-syntax or glob character through', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        fc.pre(s.isWellFormed());
        expect(escapeId(s)).toMatch(/^[A-Za-z0-9._%-]*$/);
      }),
    );
    expect(escapeId('a:b{c}*d e%')).toBe('a%3Ab%7Bc%7D%2Ad%20e%25');
    expect(escapeId('%3A')).not.toBe(escapeId(':'));
  });
});

describe('key layout', () => {
  it('every key of one container shares one hash tag, distinct per namespace, kind and id', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (ns, id) => {
        fc.pre(ns.isWellFormed() && id.isWellFormed());
        const k = containerKeys(ns, 'thread', id);
        const tags = new Set([k.meta, k.order, k.bodies].map(hashTag));
        expect(tags.size).toBe(1);
        expect(hashTag(k.meta)).not.toBe(hashTag(containerKeys(ns, 'conversation', id).meta));
        expect(hashTag(k.meta)).not.toBe(hashTag(containerKeys(ns + 'x', 'thread', id).meta));
        expect(hashTag(k.meta)).not.toBe(hashTag(groupKeys(ns, 'thread', id).index));
      }),
    );
  });

  it('ids that try to reach another namespace or entity stay inside their own tag', () => {
    const victim = containerKeys('other', 'thread', 'x');
    const attempts = ['}:meta', 'x}', '{other:t:x}', 'other:t:x', '../other', '*', 'x%7D'];
    for (const a of attempts) {
      const k = containerKeys('default', 'thread', a);
      expect(k.meta).not.toBe(victim.meta);
      expect(hashTag(k.meta).startsWith('default:t:')).toBe(true);
    }
  });

  it('chat user sets: length-prefixed hashing keeps separator tricks apart', () => {
    expect(chatSetKey('ns', ['a,b', 'c'])).not.toBe(chatSetKey('ns', ['a', 'b,c']));
    expect(chatSetKey('ns', ['1:a', 'b'])).not.toBe(chatSetKey('ns', ['1:a1:b']));
    expect(chatSetKey('ns', ['a', 'b'])).not.toBe(chatSetKey('ns2', ['a', 'b']));
  });
});
