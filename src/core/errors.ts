/**
 * The service's whole error vocabulary, declared once: every id any transport
 * can answer. Each error has an id (what callers match on:
 * `google.rpc.ErrorInfo.reason` over gRPC, the `id` of the JSON error body),
 * a gRPC status code, an HTTP status, and a default human detail. The core
 * speaks in these ids only; `transports/grpc/status.ts` turns them into gRPC
 * statuses and `gateway/errors.ts` into HTTP answers. The ids marked HTTP only
 * are answered by the JSON gateway before any operation runs.
 */

/** gRPC status codes by name, so the core needs no gRPC import. */
export type Code =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'INTERNAL';

const table = {
  MISSING_ID: ['INVALID_ARGUMENT', 400, 'Missing id'],
  MISSING_GROUP_ID: ['INVALID_ARGUMENT', 400, 'Missing group_id'],
  MISSING_TOPIC: ['INVALID_ARGUMENT', 400, 'Missing topic'],
  MISSING_AUTHOR_ID: ['INVALID_ARGUMENT', 400, 'Missing author_id'],
  MISSING_TEXT: ['INVALID_ARGUMENT', 400, 'Missing text'],
  MISSING_THREAD_ID: ['INVALID_ARGUMENT', 400, 'Missing thread_id'],
  MISSING_THREAD_IDS: ['INVALID_ARGUMENT', 400, 'Missing thread_ids or group_id'],
  MISSING_CHAT_ID: ['INVALID_ARGUMENT', 400, 'Missing chat_id'],
  MISSING_CHAT_IDS: ['INVALID_ARGUMENT', 400, 'Missing chat_ids'],
  MISSING_USER_IDS: ['INVALID_ARGUMENT', 400, 'Missing user_ids: a chat needs two or more users'],
  MISSING_USER_ID: ['INVALID_ARGUMENT', 400, 'Missing user_id'],
  MISSING_PARTICIPANTS: ['INVALID_ARGUMENT', 400, 'Missing participants'],
  MISSING_PARTICIPANT_IDS: ['INVALID_ARGUMENT', 400, 'Missing participant_ids'],
  MISSING_CONVERSATION_ID: ['INVALID_ARGUMENT', 400, 'Missing conversation_id'],
  MISSING_CONVERSATION_IDS: ['INVALID_ARGUMENT', 400, 'Missing conversation_ids'],
  /** A value of the wrong shape: bad order, negative or too large limit/offset, bad timestamp. */
  INVALID_ARGUMENT: ['INVALID_ARGUMENT', 400, 'Invalid argument'],
  /** A field over its documented size limit. */
  FIELD_TOO_LONG: ['INVALID_ARGUMENT', 400, 'Field too long'],
  /** A repeated field with more entries than allowed. */
  TOO_MANY_IDS: ['INVALID_ARGUMENT', 400, 'Too many ids'],
  /** A string that is not well-formed Unicode (lone surrogates). */
  INVALID_STRING: ['INVALID_ARGUMENT', 400, 'Invalid string'],
  /** Gateway: the body is not JSON, not an object, or has a wrong JSON type. */
  INVALID_JSON: ['INVALID_ARGUMENT', 400, 'Invalid JSON'],
  INVALID_CURSOR: ['INVALID_ARGUMENT', 400, 'Invalid cursor'],
  NOT_FOUND: ['NOT_FOUND', 404, 'Not found'],
  /** A write to a thread in the trash (SoftDeleteThread): restore it first. */
  THREAD_DELETED: ['FAILED_PRECONDITION', 409, 'The thread is in the trash'],
  /** PurgeThread of a thread that is not in the trash. */
  NOT_DELETED: ['FAILED_PRECONDITION', 409, 'The thread is not in the trash: soft-delete it before purging it'],
  /** An edit of a deleted (or purged) message: restore it first. */
  MESSAGE_DELETED: ['FAILED_PRECONDITION', 409, 'The message is deleted'],
  /** A restore of a purged message: its text is gone for good. */
  MESSAGE_PURGED: ['FAILED_PRECONDITION', 409, 'The message is purged and cannot be restored'],
  /** HTTP only: a known path asked with another method than POST (GET too for Subscribe). */
  METHOD_NOT_ALLOWED: ['INVALID_ARGUMENT', 405, 'Method not allowed'],
  /** HTTP only: a body over GATEWAY_BODY_LIMIT_BYTES. */
  PAYLOAD_TOO_LARGE: ['INVALID_ARGUMENT', 413, 'Payload too large'],
  /** HTTP only: a body charset or Content-Encoding the gateway does not decode. */
  UNSUPPORTED_MEDIA_TYPE: ['INVALID_ARGUMENT', 415, 'Unsupported media type'],
  UNAUTHORIZED: ['UNAUTHENTICATED', 401, 'Unauthorized'],
  FORBIDDEN: ['PERMISSION_DENIED', 403, 'Forbidden'],
  /** CHATS_ENFORCE_MEMBERSHIP: a SendMessage whose author is not one of the chat's users. */
  NOT_A_MEMBER: ['PERMISSION_DENIED', 403, 'The author is not a member of this chat'],
  /** CreateMessage by a read_only participant of the thread. */
  READ_ONLY: ['PERMISSION_DENIED', 403, 'The author is a read_only participant of this thread'],
  RATE_LIMITED: ['RESOURCE_EXHAUSTED', 429, 'Rate limit exceeded'],
  /** A live-feed subscriber that left FEED_MAX_BUFFERED_EVENTS unread: resume from the last cursor. */
  SLOW_CONSUMER: ['RESOURCE_EXHAUSTED', 429, 'Too many events waiting for this subscriber; resume from the last cursor'],
  /** A gRPC RESOURCE_EXHAUSTED that did not come from this service (e.g. a message over a size limit). */
  RESOURCE_EXHAUSTED: ['RESOURCE_EXHAUSTED', 429, 'Resource exhausted'],
  UNAVAILABLE: ['UNAVAILABLE', 503, 'The store is unavailable, try again'],
  DEADLINE_EXCEEDED: ['DEADLINE_EXCEEDED', 504, 'Deadline exceeded'],
  INTERNAL: ['INTERNAL', 500, 'Internal error'],
} as const satisfies Record<string, readonly [Code, number, string]>;

export type ErrorId = keyof typeof table;

/** Every id, in the table's order (the OpenAPI document's error ids). */
export const ERROR_IDS = Object.keys(table) as readonly ErrorId[];

export function codeOf(id: ErrorId): Code {
  return table[id][0];
}

/** The HTTP status a JSON caller gets for this id. */
export function httpStatusOf(id: ErrorId): number {
  return table[id][1];
}

export function defaultDetail(id: ErrorId): string {
  return table[id][2];
}

export function isErrorId(s: string): s is ErrorId {
  return Object.hasOwn(table, s);
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

/** A store read that stopped at its byte budget; the core turns it into INVALID_ARGUMENT naming the field. */
export class ReplyTooLarge extends Error {
  constructor() {
    super('the reply is over its byte budget');
    this.name = 'ReplyTooLarge';
  }
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);
