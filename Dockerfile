# syntax=docker/dockerfile:1
# One image per Switchyard service, from one multi-stage build:
#   docker build --target edge      -t switchyard/edge .
#   docker build --target auth      -t switchyard/auth .
#   docker build --target scheduler -t switchyard/scheduler .
#   docker build --target worker    -t switchyard/worker .
#   docker build --target batch     -t switchyard/batch .
# The services run TypeScript compiled on the fly by SWC (tools/scripts/run-ts.mjs), so there is no
# build step: the image carries the sources, the tsconfig files and node_modules from `npm ci`.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: node_modules from the lock file (the only stage that talks to the registry) ----------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Full install: @swc-node/register, @swc/core and the TypeScript it reads tsconfig with are needed
# at run time. The npm cache stays in a BuildKit cache mount, out of the image.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --no-audit --no-fund

# ---- runtime: what every service needs, owned by root and read-only for the service user --------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    MODEL_CATALOGUE=/app/deploy/models.yaml \
    SWC_NODE_PROJECT=/app/tsconfig.json \
    SWC_NODE_CACHE_DIR=/tmp/swc-node
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY libs ./libs
COPY apps ./apps
COPY tools/scripts ./tools/scripts
COPY deploy/models.yaml ./deploy/models.yaml
# The one writable folder: auth's embedded database / generated admin token (a volume in compose).
RUN mkdir -p /app/.data/auth && chown -R node:node /app/.data
# `node` (uid 1000) comes with the official Node.js image.
USER node
# Docker's health = readiness: compose starts dependants once the service answers /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM

# ---- one target per service ---------------------------------------------------------------------
FROM runtime AS auth
ENV PORT=8081 AUTH_GRPC_URL=0.0.0.0:50051 AUTH_DATA_DIR=/app/.data/auth
EXPOSE 8081 50051
CMD ["node", "tools/scripts/run-ts.mjs", "apps/auth/src/main.ts"]

FROM runtime AS scheduler
ENV PORT=8082 SCHEDULER_GRPC_URL=0.0.0.0:50052
EXPOSE 8082 50052
CMD ["node", "tools/scripts/run-ts.mjs", "apps/scheduler/src/main.ts"]

FROM runtime AS worker
ENV PORT=8083
EXPOSE 8083
CMD ["node", "tools/scripts/run-ts.mjs", "apps/worker/src/main.ts"]

# Files and batches live in PostgreSQL (DATABASE_URL): nothing on local disk.
FROM runtime AS batch
ENV PORT=8084
EXPOSE 8084
CMD ["node", "tools/scripts/run-ts.mjs", "apps/batch/src/main.ts"]

# Last, so a plain `docker build .` gives the edge (the public API).
FROM runtime AS edge
ENV PORT=8080
EXPOSE 8080
CMD ["node", "tools/scripts/run-ts.mjs", "apps/edge/src/main.ts"]
