# One image for every Fleet app; the command picks the app:
#   docker run fleet node apps/gateway/dist/main.js --config /app/config/fleet.yaml
# config/fleet.yaml binds everything to the container's loopback; to publish a port, override the address
# (FLEET_NETWORK__HOST=0.0.0.0 with FLEET_AUTH__TOKENS; FLEET_OPS__HOST=0.0.0.0 with ops.basic_auth, see
# docs/operations.md "Ops endpoints"), as docker-compose.yml does.
# Stage 1 installs everything and bundles the apps; stage 2 keeps production dependencies only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY apps ./apps
COPY bench/package.json ./bench/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json turbo.json LICENSE ./
COPY scripts ./scripts
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
# The apps' node flags (APP_NODE_FLAGS in packages/services/src/app-node-flags.ts): a 64 MB young generation.
ENV NODE_OPTIONS=--max-semi-space-size=64
# The workspaces' bins (`fleet`: the CLI, run from packages/client/dist) on PATH: docker run fleet fleet bench
ENV PATH=/app/node_modules/.bin:$PATH
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=build /app/packages ./packages
COPY --from=build /app/apps ./apps
COPY bench/package.json ./bench/package.json
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY config ./config
COPY examples ./examples
COPY LICENSE ./
USER node
EXPOSE 7400 7401 7402 7403
CMD ["node", "apps/gateway/dist/main.js", "--config", "/app/config/fleet.yaml"]
