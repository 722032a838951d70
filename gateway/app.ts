/**
 * The HTTP transport: an Express 5 app over a dispatcher (`dispatch.ts`),
 * which runs the operation in this process or calls a service over gRPC.
 *
 * Per request: a request id (the caller's `x-request-id` or a new one, echoed
 * in the response) → the route of the exact path (404 unknown, 405 not POST)
 * → the body as JSON, whatever the Content-Type (m3o's curl examples send
 * `-d` without one; empty means `{}`; over the limit 413) → the forwarded
 * headers and the deadline checked → the dispatcher (the request message from
 * proto3 JSON, a bad value 400 naming the field) → the response message as
 * proto3 JSON, or the error of the one error table. `GET /healthz` is 200
 * only while calls can be served.
 */
import { isUtf8 } from 'node:buffer';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { FileRegistry } from '@bufbuild/protobuf';
import type { Logger } from '../src/log';
import type { Dispatcher } from './dispatch';
import { httpError, isHttpError, writeError, type HttpError } from './errors';
import { queryToJson, writeSse } from './sse';
import { forwardedHeaders, HeaderError, REQUEST_ID_HEADER, requestIdOf, timeoutMsOf } from './headers';
import { MAX_JSON_DEPTH, tooDeep } from './depth';
import { responseToJson } from './json';
import { httpInFlight, httpMetrics } from './metrics';
import { buildRoutes, type Route, type RouteTable } from './routes';
import { loadRegistry } from '../src/descriptors';
import { apiReference } from './docs';
import { explorer } from './explorer';

export interface GatewayOptions {
  /** Where calls go: `inProcess(...)` or `remote(...)` from dispatch.ts. */
  dispatcher: Dispatcher;
  /** Largest request body in bytes (413 over it). */
  bodyLimitBytes: number;
  /** Deadline of a call without a deadline header. */
  deadlineMs: number;
  /** How long /healthz waits for the service to become reachable before answering 503. */
  healthWaitMs?: number;
  log: Logger;
  /** The descriptors; by default the ones `npm run gen` wrote. */
  registry?: FileRegistry;
  /** SSE streams: a comment line this often (FEED_HEARTBEAT_MS). */
  heartbeatMs?: number;
}

export interface Gateway {
  app: Express;
  routes: RouteTable;
  dispatcher: Dispatcher;
  /** Requests being answered now. */
  inFlight(): number;
  /** From now on every new request is 503; resolves once no request is in flight. */
  drain(): Promise<void>;
  /** Closes the dispatcher (the gRPC channel of the remote mode). */
  close(): void;
}

const HEALTHZ = '/healthz';

export function createGateway(opts: GatewayOptions): Gateway {
  const { log } = opts;
  const routes = buildRoutes(opts.registry ?? loadRegistry());
  for (const path of routes.unserved) log.warn({ path }, 'streaming method has no JSON route');
  const { dispatcher } = opts;

  let inFlight = 0;
  let draining = false;
  /** Open SSE streams: a drain ends them (their callers resume elsewhere) instead of waiting. */
  const streams = new Set<AbortController>();
  let idle: (() => void)[] = [];

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // Request id, in-flight count, one log line per request (debug, like gRPC calls), refusal while draining.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    const reqId = requestIdOf(req.headers);
    res.locals.reqId = reqId;
    res.setHeader(REQUEST_ID_HEADER, reqId);
    inFlight++;
    httpInFlight.inc();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      httpInFlight.dec();
      const ms = performance.now() - started;
      const route = (res.locals.route as Route | undefined)?.httpPath ?? (req.path === HEALTHZ ? HEALTHZ : 'unmatched');
      const m = httpMetrics(route, res.statusCode);
      m.requests.inc();
      m.latency.observe(ms / 1e3);
      if (log.isLevelEnabled('debug')) {
        log.debug({ reqId, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
      }
      if (inFlight === 0) {
        const waiting = idle;
        idle = [];
        waiting.forEach((f) => f());
      }
    };
    res.on('finish', finish);
    res.on('close', finish);
    if (draining) {
      res.setHeader('connection', 'close');
      writeError(res, httpError('UNAVAILABLE', 'The gateway is shutting down, try again'));
      return;
    }
    next();
  });

  // GET /openapi.json and /docs, open like /healthz (docs.ts).
  app.use(apiReference(opts.registry ?? loadRegistry()));
  // GET /explorer, the browser page over the JSON routes (explorer.ts).
  app.use(explorer());

  // Routing by exact path: 404 for an unknown one, 405 for a known one with another method.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.path === HEALTHZ) {
      if (req.method === 'GET' || req.method === 'HEAD') {
        void healthz(res);
        return;
      }
      writeError(res, httpError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed on ${HEALTHZ}; use GET`, { allow: 'GET, HEAD' }));
      return;
    }
    const route = routes.routes.get(req.path);
    if (!route) {
      writeError(res, httpError('NOT_FOUND', `Unknown path ${truncate(req.path, 200)}: routes are POST /{package}/{Service}/{Method}`));
      return;
    }
    if (req.method !== 'POST' && !(route.stream && req.method === 'GET')) {
      const allow = route.stream ? 'GET, POST' : 'POST';
      writeError(res, httpError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed on ${route.httpPath}; use ${allow}`, { allow }));
      return;
    }
    res.locals.route = route;
    // Headers first (a value that cannot be forwarded is 400), then the caller, both before the
    // body is read: a refused caller costs the headers, nothing more.
    try {
      res.locals.timeoutMs = timeoutMsOf(req.headers, opts.deadlineMs);
      forwardedHeaders(req.headers);
    } catch (e) {
      if (e instanceof HeaderError) {
        writeError(res, httpError('INVALID_ARGUMENT', e.message));
        return;
      }
      throw e;
    }
    const refused = dispatcher.admit(req.headers);
    if (refused) {
      res.setHeader('connection', 'close');
      writeError(res, refused);
      return;
    }
    next();
  });

  app.use(
    express.json({
      limit: opts.bodyLimitBytes,
      strict: false,
      type: () => true,
      // Invalid UTF-8 would otherwise become U+FFFD silently and be stored changed: refuse it.
      verify: (_req, res, buf, encoding) => {
        if ((!encoding || /^utf-?8$/i.test(encoding)) && !isUtf8(buf)) {
          throw Object.assign(new Error('The request body is not valid UTF-8'), { status: 400, type: 'body.invalid.utf8' });
        }
        // Depth in one linear pass before JSON.parse builds anything.
        const deep = tooDeep(buf);
        if (deep) {
          // Named as the proto field when it is one (either name style), else as sent.
          const route = (res as Response).locals.route as Route;
          const known = route.input.fields.find((f) => f.name === deep.field || f.jsonName === deep.field);
          throw Object.assign(new Error('too deep'), { status: 400, type: 'body.too.deep', field: known?.name ?? deep.field });
        }
      },
    }),
  );

  app.use(async (req: Request, res: Response) => {
    const route = res.locals.route as Route;
    const requestId = res.locals.reqId as string;
    const timeoutMs = res.locals.timeoutMs as number;
    if (route.stream) {
      const ac = new AbortController();
      streams.add(ac);
      res.on('close', () => ac.abort());
      try {
        const body = req.method === 'GET' ? queryToJson(route.input, req.query as Record<string, unknown>) : req.body;
        const items = dispatcher.stream({ route, body, headers: req.headers, requestId, signal: ac.signal });
        await writeSse(res, items, { heartbeatMs: opts.heartbeatMs ?? 15_000, signal: ac.signal, answerFor: (e) => dispatcher.answerFor(e) });
      } catch (e) {
        writeError(res, isHttpError(e) ? e : dispatcher.answerFor(e));
      } finally {
        streams.delete(ac);
      }
      return;
    }
    try {
      const response = await dispatcher.unary({ route, body: req.body, headers: req.headers, requestId, timeoutMs, res });
      const body = JSON.stringify(responseToJson(route.output, response));
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (e) {
      writeError(res, dispatcher.answerFor(e));
    }
  });

  // Body-parser errors (413, malformed JSON, unsupported charset) and anything unexpected.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    writeError(res, bodyError(err, opts.bodyLimitBytes, log, res.locals.reqId as string));
  });

  async function healthz(res: Response): Promise<void> {
    const ready = !draining && (await dispatcher.ready(opts.healthWaitMs ?? 1000));
    if (ready) res.status(200).type('application/json').send(JSON.stringify({ status: 'SERVING' }));
    else writeError(res, httpError('UNAVAILABLE', draining ? 'The gateway is shutting down' : 'The service is not reachable'));
  }

  return {
    app,
    routes,
    dispatcher,
    inFlight: () => inFlight,
    drain() {
      draining = true;
      for (const ac of streams) ac.abort();
      return inFlight === 0 ? Promise.resolve() : new Promise((done) => idle.push(done));
    },
    close: () => dispatcher.close(),
  };
}

interface BodyParserError {
  type?: string;
  field?: string;
  status?: number;
  message?: string;
}

function bodyError(err: unknown, limit: number, log: Logger, reqId: string): HttpError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as BodyParserError;
  switch (e.type) {
    case 'entity.too.large':
      return httpError('PAYLOAD_TOO_LARGE', `The request body is over the gateway's limit of ${limit} bytes`);
    case 'body.invalid.utf8':
      return httpError('INVALID_STRING', 'The request body is not valid UTF-8');
    case 'body.too.deep':
      return e.field
        ? httpError('INVALID_JSON', `Invalid value for ${truncate(e.field, 100)}: nested deeper than ${MAX_JSON_DEPTH} levels`)
        : httpError('INVALID_JSON', `The request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    case 'entity.parse.failed':
      return httpError('INVALID_JSON', `Malformed JSON: ${truncate(e.message ?? '', 200)}`);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return httpError('UNSUPPORTED_MEDIA_TYPE', truncate(e.message ?? 'Unsupported body encoding', 200));
    case 'request.aborted':
    case 'request.size.invalid':
      return httpError('INVALID_ARGUMENT', truncate(e.message ?? 'Bad request body', 200));
    default:
      // body-parser's other 4xx (e.g. a Content-Encoding the body does not have) are the caller's doing.
      if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
        return httpError('INVALID_ARGUMENT', 'The request body could not be decoded: it does not match its Content-Encoding');
      }
      log.error({ reqId, err }, 'unexpected gateway error');
      return httpError('INTERNAL', 'Internal error');
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
