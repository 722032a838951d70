/**
 * Request checks shared by the three APIs. The adapters name the wire fields
 * (thread_id, conversation_id…) and their MISSING_* ids; these functions apply
 * the rules in a fixed order: every required field first (in the order given,
 * as the README's error table lists them), then shapes and sizes. The first failure is
 * thrown as an AppError whose detail names the field.
 */
import { AppError, type ErrorId } from './errors';
import { DEFAULT_PAGE_SIZE, type Limits } from './limits';

export interface StringRule {
  field: string;
  value: string;
  /** The MISSING_* id when the field is required. */
  required?: ErrorId;
  /** Largest size in UTF-8 bytes. */
  maxBytes: number;
}

export function checkStrings(rules: StringRule[]): void {
  for (const r of rules) {
    if (r.required && r.value.length === 0) throw new AppError(r.required, undefined, { field: r.field });
  }
  for (const r of rules) checkString(r.field, r.value, r.maxBytes);
}

export function checkString(field: string, value: string, maxBytes: number): void {
  if (!value.isWellFormed()) {
    throw new AppError('INVALID_STRING', `${field} is not well-formed Unicode`, { field });
  }
  // Cheap bound first: a UTF-16 string never has more UTF-8 bytes than 3 × its length.
  if (value.length * 3 > maxBytes && Buffer.byteLength(value, 'utf8') > maxBytes) {
    throw new AppError('FIELD_TOO_LONG', `${field} is longer than ${maxBytes} bytes`, { field });
  }
}

/** A repeated id field: at most MAX_IDS_PER_CALL entries, each within MAX_ID_BYTES. */
export function checkIdList(field: string, ids: readonly string[], limits: Limits): void {
  if (ids.length > limits.MAX_IDS_PER_CALL) {
    throw new AppError('TOO_MANY_IDS', `${field} has more than ${limits.MAX_IDS_PER_CALL} entries`, { field });
  }
  ids.forEach((id, i) => checkString(`${field}[${i}]`, id, limits.MAX_ID_BYTES));
}

/**
 * An integer field (int64 arrives as a bigint, int32 and wrappers as a
 * number) within [0, max]; unset and 0 give `dflt`.
 */
export function intInRange(field: string, raw: bigint | string | number | undefined, max: number, dflt: number): number {
  if (raw === undefined || raw === '' || raw === 0 || raw === 0n || raw === '0') return dflt;
  let n: bigint;
  try {
    n = BigInt(raw);
  } catch {
    throw new AppError('INVALID_ARGUMENT', `${field} must be an integer`, { field });
  }
  if (n < 0n || n > BigInt(max)) {
    throw new AppError('INVALID_ARGUMENT', `${field} must be between 0 and ${max}`, { field });
  }
  return Number(n);
}

export type Order = 'asc' | 'desc';

/** `order`: "asc", or newest first when empty or "desc". Anything else is refused rather than guessed. */
export function parseOrder(raw: string | undefined): Order {
  const v = (raw ?? '').toLowerCase();
  if (v === '' || v === 'desc') return 'desc';
  if (v === 'asc') return 'asc';
  throw new AppError('INVALID_ARGUMENT', 'order must be "asc" or "desc"', { field: 'order' });
}

export interface Page {
  limit: number;
  offset: number;
  order: Order;
}

export function parsePage(
  req: { limit?: bigint | number; offset?: bigint | number; order?: string },
  limits: Limits,
  limitField = 'limit',
): Page {
  return {
    limit: intInRange(limitField, req.limit, limits.MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
    offset: intInRange('offset', req.offset, limits.MAX_OFFSET, 0),
    order: parseOrder(req.order),
  };
}

/**
 * A metadata map as given (README, "Metadata"): keys not empty, within
 * MAX_METADATA_KEY_BYTES, well-formed strings, and the map within
 * MAX_METADATA_KEYS and MAX_METADATA_BYTES (for an update the store checks
 * the map as it would be after the merge). Every failure names `field` (`metadata`).
 */
export function checkMetadata(map: Record<string, string> | undefined, limits: Limits, field = 'metadata'): void {
  if (!map) return;
  const bad = (detail: string) => new AppError('INVALID_ARGUMENT', `${field}: ${detail}`, { field });
  let keys = 0;
  let bytes = 0;
  for (const [k, v] of Object.entries(map)) {
    keys++;
    if (k === '') throw bad('a key is empty');
    if (!k.isWellFormed() || !v.isWellFormed()) throw bad('a key or value is not well-formed Unicode');
    const kb = Buffer.byteLength(k, 'utf8');
    if (kb > limits.MAX_METADATA_KEY_BYTES) throw bad(`a key is longer than ${limits.MAX_METADATA_KEY_BYTES} bytes (MAX_METADATA_KEY_BYTES)`);
    bytes += kb + Buffer.byteLength(v, 'utf8');
  }
  if (keys > limits.MAX_METADATA_KEYS) throw bad(`more than ${limits.MAX_METADATA_KEYS} keys (MAX_METADATA_KEYS)`);
  if (bytes > limits.MAX_METADATA_BYTES) throw bad(`keys and values hold more than ${limits.MAX_METADATA_BYTES} bytes (MAX_METADATA_BYTES)`);
}

/** include_deleted: "" and "false" (visible only), "true" (all, tombstones in place), "only" (deleted only). */
export function parseInclusion(raw: string | undefined): 'visible' | 'deleted' | 'all' {
  switch (raw ?? '') {
    case '':
    case 'false':
      return 'visible';
    case 'true':
      return 'all';
    case 'only':
      return 'deleted';
    default:
      throw new AppError('INVALID_ARGUMENT', 'include_deleted must be "", "false", "true" or "only"', { field: 'include_deleted' });
  }
}

/** order_by of ListThreads / ListConversations: "" or "created_at" (creation), "last_message_at" (activity). */
export function parseOrderBy(raw: string | undefined): 'created_at' | 'last_message_at' {
  if (raw === undefined || raw === '' || raw === 'created_at') return 'created_at';
  if (raw === 'last_message_at') return 'last_message_at';
  throw new AppError('INVALID_ARGUMENT', 'order_by must be "", "created_at" or "last_message_at"', { field: 'order_by' });
}

/** ListThreads include_deleted over the trash: "" and "false" (live only), "true" (live and trashed), "only" (trashed only). */
export function parseTrashInclusion(raw: string | undefined): 'live' | 'all' | 'trash' {
  const i = parseInclusion(raw);
  return i === 'visible' ? 'live' : i === 'all' ? 'all' : 'trash';
}
