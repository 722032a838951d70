/**
 * The service's whole error vocabulary, declared once. Each error has an id
 * (what callers match on: `google.rpc.ErrorInfo.reason` over gRPC, the `id`
 * of the gateway's JSON body), a status code, and a default human detail.
 * The core speaks in these ids only; `api/status.ts` turns them into gRPC
 * statuses and the gateway into HTTP statuses.
 */

/** gRPC status codes by name, so the core needs no gRPC import. */
export type Code =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'INTERNAL';

const table = {
  MISSING_ID: ['INVALID_ARGUMENT', 'Missing id'],
  MISSING_GROUP_ID: ['INVALID_ARGUMENT', 'Missing group_id'],
  MISSING_TOPIC: ['INVALID_ARGUMENT', 'Missing topic'],
  MISSING_AUTHOR_ID: ['INVALID_ARGUMENT', 'Missing author_id'],
  MISSING_TEXT: ['INVALID_ARGUMENT', 'Missing text'],
  MISSING_THREAD_ID: ['INVALID_ARGUMENT', 'Missing thread_id'],
  MISSING_THREAD_IDS: ['INVALID_ARGUMENT', 'Missing thread_ids or group_id'],
  MISSING_CHAT_ID: ['INVALID_ARGUMENT', 'Missing chat_id'],
  MISSING_USER_IDS: ['INVALID_ARGUMENT', 'Missing user_ids: a chat needs two or more users'],
  MISSING_CONVERSATION_ID: ['INVALID_ARGUMENT', 'Missing conversation_id'],
  MISSING_CONVERSATION_IDS: ['INVALID_ARGUMENT', 'Missing conversation_ids'],
  /** A value of the wrong shape: bad order, negative or too large limit/offset, bad timestamp. */
  INVALID_ARGUMENT: ['INVALID_ARGUMENT', 'Invalid argument'],
  /** A field over its documented size limit. */
  FIELD_TOO_LONG: ['INVALID_ARGUMENT', 'Field too long'],
  /** A repeated field with more entries than allowed. */
  TOO_MANY_IDS: ['INVALID_ARGUMENT', 'Too many ids'],
  /** A string that is not well-formed Unicode (lone surrogates). */
  INVALID_STRING: ['INVALID_ARGUMENT', 'Invalid string'],
  /** Gateway: the body is not JSON, not an object, or has a wrong JSON type. */
  INVALID_JSON: ['INVALID_ARGUMENT', 'Invalid JSON'],
  INVALID_CURSOR: ['INVALID_ARGUMENT', 'Invalid cursor'],
  NOT_FOUND: ['NOT_FOUND', 'Not found'],
  UNAUTHORIZED: ['UNAUTHENTICATED', 'Unauthorized'],
  FORBIDDEN: ['PERMISSION_DENIED', 'Forbidden'],
  RATE_LIMITED: ['RESOURCE_EXHAUSTED', 'Rate limit exceeded'],
  UNAVAILABLE: ['UNAVAILABLE', 'The store is unavailable, try again'],
  DEADLINE_EXCEEDED: ['DEADLINE_EXCEEDED', 'Deadline exceeded'],
  INTERNAL: ['INTERNAL', 'Internal error'],
} as const satisfies Record<string, readonly [Code, string]>;

export type ErrorId = keyof typeof table;

export function codeOf(id: ErrorId): Code {
  return table[id][0];
}

export function defaultDetail(id: ErrorId): string {
  return table[id][1];
}

/** A failure the caller is meant to see: its id, code and detail go on the wire as they are. */
export class AppError extends Error {
  readonly id: ErrorId;
  readonly code: Code;
  readonly detail: string;
  /** The request field at fault, when there is one. */
  readonly field?: string;
  /** For RATE_LIMITED: how long to wait before retrying. */
  readonly retryAfterMs?: number;

  constructor(id: ErrorId, detail?: string, extra: { field?: string; retryAfterMs?: number } = {}) {
    const text = detail ?? defaultDetail(id);
    super(text);
    this.name = 'AppError';
    this.id = id;
    this.code = codeOf(id);
    this.detail = text;
    this.field = extra.field;
    this.retryAfterMs = extra.retryAfterMs;
  }
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);
