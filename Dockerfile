# syntax=docker/dockerfile:1
# Multi-stage build: compile with dev dependencies, run with production ones only, as a non-root user.
# The Node line the tests run on (test/integration/deploy-compose.test.ts keeps them equal):
# an image on another line runs code nobody has tested there.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# HOST=0.0.0.0: a container is reached through its published port, so it serves callers
# with keys (GATEWAY_API_KEYS); with WeCom credentials and no keys it refuses to start.
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    TEMPLATES_DIR=/app/templates
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json openapi.yaml ./
COPY --chown=node:node templates ./templates
COPY --chown=node:node public ./public
# The Redis scripts, read where the source tree keeps them (src/redis/lua.ts): tsc does not copy .lua into dist/.
COPY --chown=node:node src/redis/lua ./src/redis/lua
USER node
EXPOSE 8080
# The image has no redis-server: set REDIS_URL (docker-compose.yml does).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main/server.js"]
