/**
 * The JSON gateway for tests: in this process on 127.0.0.1 and a free port
 * (`startGateway`), in front of a test service either in-process (the
 * operation table, as `make start` runs it) or remote (over gRPC), or as its
 * own process from the build (`spawnGateway`, dist/gateway/main.js with
 * HTTP_PORT=0; the port is read from its "gateway listening" log line). Calls
 * use Node's global fetch.
 *
 * GATEWAY_MODE=remote (jest's "gateway-remote" project) makes every suite that
 * passes its service run the remote mode instead, so the same tests check
 * that both modes answer alike.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createGateway, type Gateway, type GatewayOptions } from '../../gateway/app';
import { inProcess, remote } from '../../gateway/dispatch';
import type { TestService } from './service';
import { createLogger } from '../../src/log';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined when the body is empty or not JSON). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** POST (or another method) to the gateway; `body` is sent as JSON unless it is already a string or bytes. */
export async function call(
  url: string,
  path: string,
  body?: unknown,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const res = await fetch(url + path, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export interface TestGateway {
  url: string;
  gateway: Gateway;
  /** POST a JSON body (or a raw string) with the default headers plus `headers`. */
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** Any method, with the default headers plus `init.headers`. */
  request(path: string, body?: unknown, init?: { method?: string; headers?: Record<string, string> }): Promise<HttpAnswer>;
  stop(): Promise<void>;
}

export type GatewayMode = 'in-process' | 'remote';

/** The mode of the suites that let the environment choose (GATEWAY_MODE; in-process by default). */
export const GATEWAY_MODE: GatewayMode = process.env.GATEWAY_MODE === 'remote' ? 'remote' : 'in-process';

/**
 * The gateway in this process on 127.0.0.1 and a free port. `target` is a
 * gRPC address (the remote mode), or a test service (the mode of
 * GATEWAY_MODE). `defaultHeaders` go on every call made through `post` and
 * `request` (e.g. the test token).
 */
export async function startGateway(
  target: string | TestService,
  opts: Partial<GatewayOptions> & { maxResponseBytes?: number } = {},
  defaultHeaders: Record<string, string> = {},
): Promise<TestGateway> {
  const log = createLogger('silent', 'gateway-test');
  const dispatcher =
    typeof target === 'string' || GATEWAY_MODE === 'remote'
      ? remote({ grpcTarget: typeof target === 'string' ? target : target.address, maxResponseBytes: opts.maxResponseBytes }, log)
      : inProcess(target.calls, log);
  const gateway = createGateway({
    dispatcher,
    bodyLimitBytes: 1024 * 1024,
    deadlineMs: 10_000,
    log,
    ...opts,
  });
  const server: Server = createServer(gateway.app);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const request = (path: string, body?: unknown, init: { method?: string; headers?: Record<string, string> } = {}) =>
    call(url, path, body, { ...init, headers: { ...defaultHeaders, ...init.headers } });
  return {
    url,
    gateway,
    request,
    post: (path, body, headers) => request(path, body, { headers }),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      gateway.close();
    },
  };
}

/** `authorization: Bearer <token>`, as a header object. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export const GATEWAY_MAIN = join(__dirname, '..', '..', 'dist', 'gateway', 'main.js');

export interface SpawnedGateway {
  url: string;
  port: number;
  child: ChildProcess;
  /** Every stdout line so far (pino JSON). */
  lines: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGKILL if still running. */
  kill(): Promise<void>;
}

/** Runs dist/gateway/main.js (run `npm run build` first) with HTTP_PORT=0 and waits for its port. */
export async function spawnGateway(env: Record<string, string>): Promise<SpawnedGateway> {
  if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [GATEWAY_MAIN], {
    env: { ...process.env, HOST: '127.0.0.1', HTTP_PORT: '0', GATEWAY_METRICS_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? -1)));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`gateway did not log its port; stderr: ${stderr}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        try {
          const rec = JSON.parse(line) as { msg?: string; port?: number };
          if (rec.msg === 'gateway listening' && typeof rec.port === 'number') {
            clearTimeout(timer);
            resolve(rec.port);
          }
        } catch {
          // not a log line
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before listening; stderr: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    lines,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
