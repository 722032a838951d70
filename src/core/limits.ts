/**
 * Documented limits (README "Limits"). Sizes are UTF-8 bytes. Each is a
 * default that an operator may override with the environment variable of the
 * same name; `config.ts` reads them.
 */
export interface Limits {
  /** Message text. */
  MAX_TEXT_BYTES: number;
  /** Thread / conversation topic. */
  MAX_TOPIC_BYTES: number;
  /** Any id: thread, chat, conversation, message, group, author, user. */
  MAX_ID_BYTES: number;
  /** Entries of a repeated id field (thread_ids, conversation_ids, user_ids). */
  MAX_IDS_PER_CALL: number;
  /** `limit` of a list call. */
  MAX_PAGE_SIZE: number;
  /** `offset` of a list call. */
  MAX_OFFSET: number;
  /** `limit_per_thread` / `limit_per_conversation` of RecentMessages. */
  MAX_RECENT_PER_CONTAINER: number;
  /** Threads of a group that RecentMessages by group_id reads (the newest ones). */
  MAX_RECENT_CONTAINERS: number;
  /**
   * Bytes of message ids and stored records in one reply, counted by the
   * store as it reads (it stops there). The other limits allow a
   * RecentMessages of 100 × 100 texts of 16 KiB (160 MiB), more than a gRPC
   * reply may carry and than one caller should cost Redis and the process.
   */
  MAX_REPLY_BYTES: number;
  /** Metadata maps (threads, conversations, chats, messages), as they would be after a merge. */
  MAX_METADATA_KEYS: number;
  MAX_METADATA_KEY_BYTES: number;
  /** Keys and values together, UTF-8 bytes. */
  MAX_METADATA_BYTES: number;
  /** Containers GetUnread counts (a user's most recent chats, or most recent in the group). */
  GET_UNREAD_MAX_CONTAINERS: number;
  /** Participants one thread may hold (README, "A richer thread"). */
  MAX_PARTICIPANTS: number;
  /** Events kept per container feed: a Subscribe cursor further behind gets `resync_required`. */
  FEED_RETENTION_EVENTS: number;
  /** Live events waiting for one subscriber before it is ended with SLOW_CONSUMER. */
  FEED_MAX_BUFFERED_EVENTS: number;
  /** Chats one Chats.Subscribe by user_id follows (the user's newest). */
  FEED_MAX_USER_CHATS: number;
}

export const DEFAULT_PAGE_SIZE = 25;

/**
 * Large reads per namespace per instance: running at once, and waiting (core/read-slots.ts). One at
 * a time: a 4 MiB reply holds the event loop for tens of milliseconds, and each one running at once
 * adds that to every other tenant's calls, while the namespace's own throughput of large reads is
 * the same with 1, 2 or 4 (bench/fairness.ts: the other tenant's ReadThread p99 8.5 × its unloaded
 * p99 with 1, 17 × with 2, 20 × with 4, at 20-23 pages/s each).
 */
export const DEFAULT_READ_SLOTS = Object.freeze({ inFlight: 1, queued: 32, share: 0.5 });

export const defaultLimits: Readonly<Limits> = Object.freeze({
  MAX_TEXT_BYTES: 16 * 1024,
  MAX_TOPIC_BYTES: 1024,
  MAX_ID_BYTES: 256,
  MAX_IDS_PER_CALL: 100,
  MAX_PAGE_SIZE: 1000,
  MAX_OFFSET: 100_000,
  MAX_RECENT_PER_CONTAINER: 100,
  MAX_RECENT_CONTAINERS: 100,
  MAX_REPLY_BYTES: 4 * 1024 * 1024,
  MAX_METADATA_KEYS: 64,
  MAX_METADATA_KEY_BYTES: 128,
  MAX_METADATA_BYTES: 16384,
  GET_UNREAD_MAX_CONTAINERS: 1000,
  MAX_PARTICIPANTS: 1000,
  FEED_RETENTION_EVENTS: 10_000,
  FEED_MAX_BUFFERED_EVENTS: 1000,
  FEED_MAX_USER_CHATS: 500,
});
