/**
 * Reply bytes handed to HTTP/2 that the caller has not taken yet, per
 * namespace. A caller that stops reading (a zero flow-control window) leaves
 * every reply built for it in this process's memory until the stream ends;
 * grpc-js and Node bound that only per connection, so a caller with many
 * connections could make the service hold any amount. The admission
 * interceptor (guard.ts) counts each unary reply here from the moment it is
 * written until its last byte is sent (or the call ends), and refuses the
 * namespace's calls while it holds NAMESPACE_UNSENT_REPLY_BYTES or more.
 */
export class UnsentReplies {
  private readonly byNs = new Map<string, number>();

  constructor(readonly budget: number) {}

  /** Bytes held for `ns` now. */
  bytes(ns: string): number {
    return this.byNs.get(ns) ?? 0;
  }

  /** Whether `ns` holds its budget or more: its next reply is refused. */
  full(ns: string): boolean {
    return this.bytes(ns) >= this.budget;
  }

  /** Counts `n` bytes against `ns` until the returned function is called (later calls do nothing). */
  hold(ns: string, n: number): () => void {
    this.byNs.set(ns, this.bytes(ns) + n);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.bytes(ns) - n;
      if (left > 0) this.byNs.set(ns, left);
      else this.byNs.delete(ns);
    };
  }
}
