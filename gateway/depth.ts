/**
 * How deep a JSON body nests, found in one pass over its bytes before it is
 * parsed (JSON.parse itself would build the whole structure first, and a
 * megabyte of `[` then costs hundreds of milliseconds and memory). No request
 * message of this service nests anywhere near MAX_JSON_DEPTH, so a deeper body
 * is refused wherever the nesting is, known field or not.
 */

export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Undefined when `buf` nests at most `max` levels; otherwise the top-level
 * key under which it first nests deeper (empty when the body itself does).
 * Malformed JSON is left for the parser to refuse.
 */
export function tooDeep(buf: Uint8Array, max = MAX_JSON_DEPTH): { field: string } | undefined {
  let depth = 0;
  let inString = false;
  let escaped = false;
  // The key being read at depth 1, and the last one read there.
  let keyStart = -1;
  let expectKey = false;
  let field = '';
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) {
        inString = false;
        if (keyStart >= 0) {
          field = Buffer.from(buf.subarray(keyStart, Math.min(i, keyStart + 256))).toString('utf8');
          keyStart = -1;
        }
      }
      continue;
    }
    if (b === QUOTE) {
      inString = true;
      if (depth === 1 && expectKey) {
        keyStart = i + 1;
        expectKey = false;
      }
    } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      depth++;
      if (depth > max) return { field: depth > 1 ? field : '' };
      if (depth === 1) expectKey = b === OPEN_OBJECT;
    } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
      depth--;
    } else if (b === COMMA && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
}
