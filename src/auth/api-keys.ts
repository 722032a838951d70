/**
 * API keys: which bearer token belongs to which namespace.
 *
 * `API_KEYS` is `namespace:token,namespace:token…`. With it unset, the first
 * start creates one random token for namespace `default`, keeps it in
 * `DATA_DIR/api-key` (mode 0600) and prints it once on stderr; later starts
 * reuse it without printing it. Tokens are compared in constant time (both
 * sides hashed to equal length first, then timingSafeEqual against every key);
 * tokens that passed are remembered, so only unknown ones pay for the hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_NAMESPACE = 'default';
export const KEY_FILE = 'api-key';

/** Namespaces are short and plain: they are shown to operators and carried in every key. */
const NAMESPACE = /^[A-Za-z0-9._-]{1,64}$/;

export interface ApiKey {
  namespace: string;
  token: string;
}

export function parseApiKeys(spec: string): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const [i, raw] of spec.split(',').entries()) {
    const entry = raw.trim();
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    const namespace = entry.slice(0, colon);
    const token = entry.slice(colon + 1);
    if (colon <= 0 || !NAMESPACE.test(namespace)) {
      throw new Error(`Invalid settings: API_KEYS entry ${i + 1} needs a namespace of [A-Za-z0-9._-], 1-64 characters, before ":"`);
    }
    if (token.length < 8 || /\s/.test(token)) {
      throw new Error(`Invalid settings: API_KEYS entry ${i + 1} (namespace ${namespace}) needs a token of 8 or more non-space characters`);
    }
    const other = keys.find((k) => k.token === token && k.namespace !== namespace);
    if (other) throw new Error(`Invalid settings: API_KEYS gives one token to namespaces ${other.namespace} and ${namespace}`);
    keys.push({ namespace, token });
  }
  if (keys.length === 0) throw new Error('Invalid settings: API_KEYS is set but holds no namespace:token pair');
  return keys;
}

/** The default key of a DATA_DIR, created on first use. `created` tells the caller to print it once. */
export function loadOrCreateDefaultKey(dataDir: string): { key: ApiKey; created: boolean; file: string } {
  const file = join(dataDir, KEY_FILE);
  if (existsSync(file)) {
    const [key] = parseApiKeys(readFileSync(file, 'utf8').trim());
    chmodSync(file, 0o600);
    return { key, created: false, file };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = { namespace: DEFAULT_NAMESPACE, token: randomBytes(32).toString('base64url') };
  writeFileSync(file, `${key.namespace}:${key.token}\n`, { mode: 0o600, flag: 'wx' });
  return { key, created: true, file };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Looks a presented token up in constant time with respect to the tokens' contents. */
export class KeyRing {
  private readonly entries: { namespace: string; digest: Buffer }[];

  constructor(keys: readonly ApiKey[]) {
    this.entries = keys.map((k) => ({ namespace: k.namespace, digest: digest(k.token) }));
  }

  /** Tokens already verified (only good ones, bounded), so a steady caller skips the hash. */
  private readonly verified = new Map<string, string>();

  namespaceOf(token: string): string | undefined {
    const hit = this.verified.get(token);
    if (hit !== undefined) return hit;
    const found = this.lookup(token);
    if (found !== undefined) {
      if (this.verified.size >= 1024) this.verified.clear();
      this.verified.set(token, found);
    }
    return found;
  }

  private lookup(token: string): string | undefined {
    const d = digest(token);
    let found: string | undefined;
    // No early exit: every key is compared, whichever matches.
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && found === undefined) found = e.namespace;
    return found;
  }
}
