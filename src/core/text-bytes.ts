/**
 * A message text kept as the UTF-8 bytes it was stored as. A large page (up to
 * MAX_REPLY_BYTES of texts) decoded into strings fills the service's young
 * generation with megabytes that survive every scavenge until the reply is
 * encoded, and every other caller waits out those pauses (README, "Fairness").
 * So the store hands a large page's texts over as slices of Redis's reply, and
 * the gRPC encoder copies the bytes into the reply (transports/grpc/encode.ts)
 * without ever making a string of them.
 *
 * Every other reader sees an ordinary `text`: it is an accessor that decodes
 * the bytes when read (the JSON transport, a spread, a log line), so an object
 * carrying bytes behaves like one carrying the string.
 */
export const TEXT_BYTES = Symbol('textBytes');

export interface WithTextBytes {
  text: string;
  [TEXT_BYTES]?: Buffer;
}

/** `o` with `text` answered from `bytes` (replacing any `text` it had). */
export function withTextBytes<T extends object>(o: T, bytes: Buffer): T {
  Object.defineProperty(o, TEXT_BYTES, { value: bytes, enumerable: false });
  Object.defineProperty(o, 'text', { get: decodeText, enumerable: true, configurable: true });
  return o;
}

/** The bytes behind `o.text`, when it carries them. */
export function textBytesOf(o: object): Buffer | undefined {
  return (o as WithTextBytes)[TEXT_BYTES];
}

function decodeText(this: WithTextBytes): string {
  return this[TEXT_BYTES]!.toString('utf8');
}
