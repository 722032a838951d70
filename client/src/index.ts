export { createClient, type ClientOptions, type CallOptions, type ParleyClient, type ThreadsClient, type ChatsClient, type StreamsClient, type RetryListener } from './client';
export { ParleyError } from './errors';
export { Subscription, type SubscribeOptions, type SubscribeRequests, type EventOf } from './subscribe';
export type { BackoffPolicy } from './backoff';
export * as threads from './gen/threads/threads_pb';
export * as chats from './gen/chats/chats_pb';
export * as streams from './gen/streams/streams_pb';
