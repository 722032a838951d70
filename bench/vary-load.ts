/**
 * A gRPC load process whose requests differ call by call, for the cases h2load
 * cannot drive: h2load sends one body for every request, and UpdateMessage /
 * DeleteMessage must name a different message per call (a delete of a deleted
 * message is a cheap no-op). Raw node:http2 (not grpc-js, which costs as much
 * CPU per call as the server side): `clients` HTTP/2 connections, `inFlight`
 * streams in all, each stream sending the next request as soon as the last one
 * has its trailers. A call counts when it ends within the run with HTTP 200 and
 * grpc-status 0; any other answer fails the run.
 *
 * The requests: UpdateMessageRequest { thread_id, id, text } or
 * DeleteMessageRequest { thread_id, id }, or threads' MarkReadRequest
 * { thread_id, user_id, message_id } (the same field numbers: the file's lines
 * are then user ids, and `text` is the message id), the ids taken from a file (one per
 * line) from line `start` on; `cycle` goes round the file (UpdateMessage: each
 * call a real edit), otherwise running out of ids fails the run (DeleteMessage:
 * every call deletes a message not yet deleted).
 *
 * argv[2]: JSON of VaryLoadSpec. Prints one line of JSON, VaryLoadResult.
 */
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { percentileSorted } from './lib/stats';

export interface VaryLoadSpec {
  port: number;
  /** e.g. /threads.Threads/UpdateMessage */
  path: string;
  token: string;
  seconds: number;
  inFlight: number;
  clients: number;
  threadId: string;
  idsFile: string;
  start: number;
  cycle: boolean;
  /** Field 3: UpdateMessage's new text; MarkRead's message_id; absent for DeleteMessage. */
  text?: string;
}

export interface VaryLoadResult {
  /** Calls answered OK within the run. */
  requests: number;
  /** Calls sent (the ones still in flight at the end were sent, and take effect). */
  issued: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** This process's CPU per counted call, µs. */
  loadCpuUs: number;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(no: number, s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(b.length)]), b]);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as VaryLoadSpec;
  const ids = readFileSync(spec.idsFile, 'utf8').split('\n').filter(Boolean);
  // Fields 1 (thread_id), 2 (id; MarkRead: user_id), 3 (text; MarkRead: message_id); the gRPC frame around them.
  const head = field(1, spec.threadId);
  const tail = spec.text ? field(3, spec.text) : Buffer.alloc(0);
  let next = spec.start;
  const frame = (): Buffer | undefined => {
    if (next >= ids.length) {
      if (!spec.cycle) return undefined;
      next = 0;
    }
    const msg = Buffer.concat([head, field(2, ids[next++]), tail]);
    const f = Buffer.alloc(5 + msg.length);
    f.writeUInt32BE(msg.length, 1);
    msg.copy(f, 5);
    return f;
  };
  const headers = {
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: spec.path,
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${spec.token}`,
  };
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < Math.min(spec.clients, spec.inFlight); i++) {
    const s = connect(`http://127.0.0.1:${spec.port}`);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    sessions.push(s);
  }
  const lat = new Float64Array(1 << 22);
  let done = 0;
  let issued = 0;
  let failure: string | undefined;
  let ranOut = false;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const endAt = t0 + BigInt(Math.round(spec.seconds * 1e9));
  let stopping = false;

  const one = (s: ClientHttp2Session): Promise<void> =>
    new Promise((resolve) => {
      const body = frame();
      if (!body) {
        ranOut = true;
        resolve();
        return;
      }
      issued++;
      const start = process.hrtime.bigint();
      const req = s.request(headers);
      let status = '';
      let grpcStatus: string | undefined;
      let message = '';
      req.on('response', (h) => {
        status = String(h[':status']);
        if (h['grpc-status'] !== undefined) {
          grpcStatus = String(h['grpc-status']);
          message = String(h['grpc-message'] ?? '');
        }
      });
      req.on('trailers', (h) => {
        grpcStatus = String(h['grpc-status']);
        message = String(h['grpc-message'] ?? '');
      });
      req.on('data', () => {});
      req.on('error', (e: Error) => {
        failure ??= `stream error: ${e.message}`;
      });
      req.on('close', () => {
        const end = process.hrtime.bigint();
        if (status !== '200' || grpcStatus !== '0') failure ??= `HTTP ${status}, grpc-status ${grpcStatus}: ${decodeURIComponent(message)}`;
        else if (end <= endAt && done < lat.length) lat[done++] = Number(end - start) / 1e6;
        resolve();
      });
      req.end(body);
    });

  const loop = async (s: ClientHttp2Session): Promise<void> => {
    while (!stopping && !failure && !ranOut) {
      await one(s);
      if (process.hrtime.bigint() >= endAt) stopping = true;
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < spec.inFlight; i++) loops.push(loop(sessions[i % sessions.length]));
  await Promise.all(loops);
  const cpu = process.cpuUsage(cpu0);
  for (const s of sessions) s.close();
  if (failure) throw new Error(failure);
  if (ranOut) throw new Error(`ran out of message ids after ${issued} calls (from line ${spec.start} of ${ids.length}): make the thread bigger`);
  const sorted = lat.subarray(0, done).sort();
  const result: VaryLoadResult = {
    requests: done,
    issued,
    rps: done / spec.seconds,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
    loadCpuUs: (cpu.user + cpu.system) / Math.max(1, done),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`vary-load: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
