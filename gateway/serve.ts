/**
 * The HTTP server of the JSON transport, in either mode: listen on
 * HOST:HTTP_PORT (0 picks a free port) with its limits (at most
 * HTTP_MAX_CONNECTIONS connections, more are closed on arrival; headers and
 * whole requests within their timeouts, checked every second rather than
 * Node's default 30 s, so a slow or silent client is dropped within seconds;
 * idle keep-alive connections closed), and on stop drain: the listener
 * closes, new requests on open connections get 503, in-flight requests finish
 * (up to `shutdownTimeoutMs`), then the remaining connections close.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpLimits } from '../src/config';
import type { Logger } from '../src/log';
import type { Gateway } from './app';

export interface HttpServer {
  server: Server;
  port: number;
  /** Drains and closes; resolves once every connection is closed. */
  stop(): Promise<void>;
}

export async function serveHttp(
  gw: Gateway,
  host: string,
  port: number,
  shutdownTimeoutMs: number,
  limits: HttpLimits,
  log: Logger,
): Promise<HttpServer> {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    gw.app,
  );
  server.maxConnections = limits.maxConnections;
  const bound = await listen(server, port, host);
  return {
    server,
    port: bound,
    async stop() {
      log.info({ inFlight: gw.inFlight() }, 'HTTP draining');
      const closed = new Promise<void>((done) => server.close(() => done()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((done) => {
        timer = setTimeout(() => done(true), shutdownTimeoutMs);
      });
      if (await Promise.race([gw.drain().then(() => false), timedOut])) log.warn({ inFlight: gw.inFlight() }, 'drain timed out; closing remaining requests');
      clearTimeout(timer);
      // Idle keep-alive connections (and, after a timeout, the stragglers).
      server.closeAllConnections();
      await closed;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
