/**
 * Which client errors mean "the store cannot be reached right now"
 * (UNAVAILABLE, worth a retry) rather than a bug (INTERNAL).
 */
const UNREACHABLE = [
  'Connection is closed',
  "Stream isn't writeable",
  'Command timed out',
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
