/**
 * A minimal grpc-js client for setting up and probing: unary calls by service
 * definition, with the bearer token, returning the decoded reply and its size.
 */
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

export interface MethodDef<Req, Res> {
  path: string;
  requestSerialize: (r: Req) => Buffer;
  responseDeserialize: (b: Buffer) => Res;
}

export class Rpc {
  readonly client: Client;
  constructor(
    port: number,
    private readonly token: string,
  ) {
    this.client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  }

  /** The reply and the size of its protobuf encoding. */
  call<Req, Res>(def: MethodDef<Req, Res>, req: Req, timeoutMs = 30000): Promise<{ reply: Res; bytes: number }> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${this.token}`);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        (b: Buffer) => b,
        req,
        md,
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, raw?: Buffer) => {
          if (err || !raw) reject(err ?? new Error('no reply'));
          else resolve({ reply: def.responseDeserialize(raw), bytes: raw.length });
        },
      );
    });
  }

  async ready(timeoutMs = 20000): Promise<void> {
    await new Promise<void>((resolve, reject) => this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.client.close();
  }
}

/** POST JSON with the bearer token; the parsed body, the raw text and the status. */
export async function postJson(port: number, path: string, body: string, token: string): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}
