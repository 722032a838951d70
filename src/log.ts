/**
 * The one structured logger (pino: JSON lines, fast, with path redaction).
 * Credentials never reach a log line: any `authorization` field is redacted
 * wherever it appears in the logged object.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'token',
  '*.token',
];

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
