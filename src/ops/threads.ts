/**
 * What only Threads has (README, "A richer thread"; contract 7.8):
 * participants, the trash, and ListThreads' filters. The create, read and
 * list operations of ./shared.ts call the parsers here for the thread fields.
 */
import { AppError } from '../core/errors';
import type { Limits } from '../core/limits';
import type { Metadata, NewParticipant, ParticipantRole, ParticipantType, ThreadFilter } from '../core/model';
import { rfc3339ToNanos } from '../core/time';
import { checkIdList, checkMetadata, checkStrings, parsePage } from '../core/validate';
import type { ThreadOptions } from '../core/containers';
import type { ListId } from '../core/cursors';
import { containerReply, participantReply } from './apis';
import { unary } from './operation';
import { keysetOf, pageFields, type KeysetFields, type OperationBuilder } from './shared';

const TYPES: readonly ParticipantType[] = ['user', 'agent', 'tool'];
const ROLES: readonly ParticipantRole[] = ['read_write', 'read_only'];

interface ParticipantFields {
  id: string;
  type: string;
  name: string;
  role: string;
  metadata?: Metadata;
}

/** Participants of a call: at most MAX_IDS_PER_CALL, each with an id and a known type and role ("" for the defaults). */
export function parseParticipants(list: readonly ParticipantFields[], L: Limits): NewParticipant[] {
  if (list.length > L.MAX_IDS_PER_CALL) {
    throw new AppError('TOO_MANY_IDS', `participants has more than ${L.MAX_IDS_PER_CALL} entries (MAX_IDS_PER_CALL)`, { field: 'participants' });
  }
  return list.map((p, i) => {
    const at = `participants[${i}]`;
    if (p.id === '') throw new AppError('MISSING_ID', `Missing ${at}.id`, { field: `${at}.id` });
    checkStrings([
      { field: `${at}.id`, value: p.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
      { field: `${at}.name`, value: p.name, maxBytes: L.MAX_TOPIC_BYTES },
    ]);
    const type = (p.type || 'user') as ParticipantType;
    if (!TYPES.includes(type)) throw new AppError('INVALID_ARGUMENT', `${at}.type must be "", "user", "agent" or "tool"`, { field: `${at}.type` });
    const role = (p.role || 'read_write') as ParticipantRole;
    if (!ROLES.includes(role)) throw new AppError('INVALID_ARGUMENT', `${at}.role must be "", "read_write" or "read_only"`, { field: `${at}.role` });
    checkMetadata(p.metadata, L, `${at}.metadata`);
    const metadata = Object.fromEntries(Object.entries(p.metadata ?? {}).filter(([, v]) => v !== ''));
    return { id: p.id, type, name: p.name, role, metadata };
  });
}

/** CreateThread's thread fields: creator, parent (both ids or neither), first participants. */
export function parseThreadOptions(req: { createdBy?: string; parentThreadId?: string; parentMessageId?: string; participants?: ParticipantFields[] }, L: Limits): ThreadOptions {
  const parentThreadId = req.parentThreadId ?? '';
  const parentMessageId = req.parentMessageId ?? '';
  checkStrings([
    { field: 'created_by', value: req.createdBy ?? '', maxBytes: L.MAX_ID_BYTES },
    { field: 'parent_thread_id', value: parentThreadId, maxBytes: L.MAX_ID_BYTES },
    { field: 'parent_message_id', value: parentMessageId, maxBytes: L.MAX_ID_BYTES },
  ]);
  if ((parentThreadId === '') !== (parentMessageId === '')) {
    const missing = parentThreadId === '' ? 'parent_thread_id' : 'parent_message_id';
    throw new AppError('INVALID_ARGUMENT', `${missing} is required with ${missing === 'parent_thread_id' ? 'parent_message_id' : 'parent_thread_id'}: a sub-thread names both`, { field: missing });
  }
  const participants = parseParticipants(req.participants ?? [], L);
  if (participants.length > L.MAX_PARTICIPANTS) {
    throw new AppError('INVALID_ARGUMENT', `participants: more than ${L.MAX_PARTICIPANTS} (MAX_PARTICIPANTS)`, { field: 'participants' });
  }
  return {
    createdBy: req.createdBy ?? '',
    parent: parentThreadId ? { threadId: parentThreadId, messageId: parentMessageId } : undefined,
    participants,
  };
}

export interface ThreadListFields {
  ids?: string[];
  participantId?: string;
  createdBy?: string;
  parentMessageId?: string;
  createdAfter?: string;
  createdBefore?: string;
  updatedAfter?: string;
  updatedBefore?: string;
}

/** ListThreads' filters (undefined for none), checked; only with the creation order. */
export function parseThreadFilter(req: ThreadListFields, orderBy: string, L: Limits): ThreadFilter | undefined {
  const ids = req.ids ?? [];
  checkIdList('ids', ids, L);
  checkStrings([
    { field: 'participant_id', value: req.participantId ?? '', maxBytes: L.MAX_ID_BYTES },
    { field: 'created_by', value: req.createdBy ?? '', maxBytes: L.MAX_ID_BYTES },
    { field: 'parent_message_id', value: req.parentMessageId ?? '', maxBytes: L.MAX_ID_BYTES },
  ]);
  const time = (field: string, v: string | undefined) => (v ? rfc3339ToNanos(field, v) : undefined);
  const f: ThreadFilter = {
    ids: ids.length > 0 ? ids : undefined,
    participantId: req.participantId || undefined,
    createdBy: req.createdBy || undefined,
    parentMessageId: req.parentMessageId === 'null' ? null : req.parentMessageId || undefined,
    createdAfter: time('created_after', req.createdAfter),
    createdBefore: time('created_before', req.createdBefore),
    updatedAfter: time('updated_after', req.updatedAfter),
    updatedBefore: time('updated_before', req.updatedBefore),
  };
  const given = Object.entries(f).filter(([, v]) => v !== undefined);
  if (given.length === 0) return undefined;
  if (orderBy !== 'created_at') {
    throw new AppError('INVALID_ARGUMENT', 'order_by: the filters page threads in creation order; use "" or "created_at" with them', { field: 'order_by' });
  }
  return f;
}

/** A thread's participants in join order (each thread's own list). */
const participantList = (ns: string, threadId: string): ListId => ({ ns, kind: 'thread', type: 'participants', scope: threadId });

function threadId(req: { threadId?: string }, L: Limits): string {
  const id = req.threadId ?? '';
  checkStrings([{ field: 'thread_id', value: id, required: 'MISSING_THREAD_ID', maxBytes: L.MAX_ID_BYTES }]);
  return id;
}

export const addParticipants: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: { threadId: string; participants: ParticipantFields[] }, { ns }) => {
    const id = threadId(req, L);
    if (req.participants.length === 0) throw new AppError('MISSING_PARTICIPANTS', undefined, { field: 'participants' });
    const participants = parseParticipants(req.participants, L);
    return { thread: containerReply(api, await core.addParticipants(ns, id, participants)) };
  });
};

export const removeParticipants: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: { threadId: string; participantIds: string[] }, { ns }) => {
    const id = threadId(req, L);
    if (req.participantIds.length === 0) throw new AppError('MISSING_PARTICIPANT_IDS', undefined, { field: 'participant_ids' });
    checkIdList('participant_ids', req.participantIds, L);
    return { thread: containerReply(api, await core.removeParticipants(ns, id, req.participantIds)) };
  });
};

export const listParticipants: OperationBuilder = (api, core, cursors) => {
  const L = core.limits;
  return unary(async (req: KeysetFields & { threadId: string; limit?: bigint | number }, { ns }) => {
    const id = threadId(req, L);
    const list = participantList(ns, id);
    const page = { limit: parsePage({ limit: req.limit }, L).limit, cursor: keysetOf(req, list, cursors) };
    const found = await core.listParticipants(ns, id, page);
    return { participants: found.items.map((p) => participantReply(api, p)), ...pageFields(found, list, cursors) };
  });
};

function threadById(req: { id?: string }, L: Limits): string {
  const id = req.id ?? '';
  checkStrings([{ field: 'id', value: id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES }]);
  return id;
}

const trashOp =
  (op: 'trash' | 'restore'): OperationBuilder =>
  (api, core) => {
    const L = core.limits;
    return unary(async (req: { id: string }, { ns }) => ({ thread: containerReply(api, await core.trash(ns, threadById(req, L), op)) }));
  };
export const softDeleteThread = trashOp('trash');
export const restoreThread = trashOp('restore');

export const purgeThread: OperationBuilder = (_api, core) => {
  const L = core.limits;
  return unary(async (req: { id: string }, { ns }) => {
    await core.purge(ns, threadById(req, L));
    return {};
  });
};
