/**
 * Which client errors mean "the store cannot be reached right now"
 * (UNAVAILABLE, worth a retry), which mean "the store did not answer in time"
 * (DEADLINE_EXCEEDED: a write may still have applied), and which are bugs (INTERNAL).
 */
const UNREACHABLE = [
  'Connection is closed',
  "Stream isn't writeable",
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'LOADING',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'MASTERDOWN',
  'None of startup nodes is available',
];

export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return UNREACHABLE.some((s) => err.message.includes(s));
}

/** A command or store operation that ran past REDIS_COMMAND_TIMEOUT_MS. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('Command timed out');
}
