/**
 * The gateway's settings. The shared ones (HOST, HTTP_PORT, GRPC_TARGET,
 * LOG_LEVEL, SHUTDOWN_TIMEOUT_MS, GRPC_MAX_SEND_BYTES) come from
 * `src/config.ts`, so both processes read them the same way; the gateway's
 * own (GATEWAY_*) are declared here, each default written once. The table in
 * gateway/README.md lists the same names and defaults.
 */
import { z } from 'zod';
import { loadConfig, type Config } from '../src/config';

/** The service accepts gRPC requests up to 4 MiB (GRPC_MAX_RECEIVE_BYTES), so a larger JSON body could never pass. */
export const MAX_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_DEADLINE_MS = 10_000;
/** A client's deadline header is honoured up to this long. */
export const MAX_DEADLINE_MS = 5 * 60_000;

const schema = z.object({
  /** Largest request body, in bytes (after Content-Encoding is undone); over it: 413. */
  GATEWAY_BODY_LIMIT_BYTES: z.coerce.number().int().positive().max(MAX_BODY_LIMIT_BYTES).default(DEFAULT_BODY_LIMIT_BYTES),
  /** The deadline of a call whose request has no deadline header. */
  GATEWAY_DEADLINE_MS: z.coerce.number().int().positive().max(MAX_DEADLINE_MS).default(DEFAULT_DEADLINE_MS),
  /** Prometheus /metrics of the gateway (0: any free port, logged). */
  GATEWAY_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
});

export interface GatewaySettings {
  /** The shared settings these were read with. */
  config: Config;
  host: string;
  httpPort: number;
  grpcTarget: string;
  logLevel: string;
  shutdownTimeoutMs: number;
  bodyLimitBytes: number;
  deadlineMs: number;
  metricsPort: number;
  /** Largest gRPC response the gateway accepts: what the service may send (GRPC_MAX_SEND_BYTES). */
  maxResponseBytes: number;
}

/** Reads the settings; a bad value stops the start with a message naming the variable. */
export function loadGatewaySettings(env: NodeJS.ProcessEnv = process.env): GatewaySettings {
  const cfg = loadConfig(env);
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid settings: ${problems}`);
  }
  return Object.freeze({
    config: cfg,
    host: cfg.host,
    httpPort: cfg.httpPort,
    grpcTarget: cfg.grpcTarget,
    logLevel: cfg.logLevel,
    shutdownTimeoutMs: cfg.shutdownTimeoutMs,
    bodyLimitBytes: parsed.data.GATEWAY_BODY_LIMIT_BYTES,
    deadlineMs: parsed.data.GATEWAY_DEADLINE_MS,
    metricsPort: parsed.data.GATEWAY_METRICS_PORT,
    maxResponseBytes: cfg.grpcMaxSendBytes,
  });
}
