# Build: npm ci, generate code from the protos, compile.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY buf.yaml buf.gen.yaml tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY scripts ./scripts
COPY src ./src
COPY gateway ./gateway
COPY client ./client
RUN npm run build && npm prune --omit=dev

# Run: the compiled service (gRPC and JSON over HTTP in one process), redis-server for the embedded store, as a non-root user.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./package.json
RUN mkdir -p /data && chown node:node /data
USER node
ENV DATA_DIR=/data HOST=0.0.0.0 GRPC_PORT=50051 HTTP_PORT=8080 METRICS_PORT=9464
VOLUME /data
# gRPC, JSON over HTTP, Prometheus /metrics.
EXPOSE 50051 8080 9464
# Healthy while GET /healthz on the HTTP port answers 200 (calls can be served); node is the only tool the image has for it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# The open-file soft limit raised to the hard one: connection limits are fitted under it.
CMD ["sh", "-c", "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec node dist/src/main.js"]
