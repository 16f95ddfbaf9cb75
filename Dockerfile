# syntax=docker/dockerfile:1
# One image for both processes (DESIGN §4): the API is the default command; the standalone
# renderer is `node dist/headless/main.js` (compose `command:`, Kubernetes `args:`, so tini stays PID 1).
#
# Base: Node 24 LTS on Debian bookworm, the official slim image. Bookworm because the renderer
# drives Debian's own Chromium package (never a downloaded browser build) and CI runs on bookworm
# with that same package; the official Node image rather than Node from the npm registry on a
# plain Debian image because it is smaller, carries npm, and is what upgrades track.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript with the full (dev) dependency set ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script to work (playwright-core has none, so
# no browser is fetched); the only other one is a telemetry ping from swagger-ui-dist's @scarf/scarf.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- production dependencies only, in their own stage so npm's cache stays out of the image ----
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# chromium: Debian's build, what CHROMIUM_PATH points at. Fonts so pages and screenshots show text:
# Liberation (metric-compatible Arial/Times/Courier), Noto colour emoji, Noto CJK.
# tini: PID 1 reaps Chromium's orphaned helper processes and passes SIGTERM to node, which
# drains in-flight renders before closing Chromium. Not `tini -g`: Chromium must not get the
# SIGTERM itself, or it would die under the renders being drained.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium fonts-liberation fonts-noto-color-emoji fonts-noto-cjk tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A numeric, non-root user: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 riptide \
 && useradd --system --uid 10001 --gid riptide --create-home --home-dir /home/riptide --shell /usr/sbin/nologin riptide

WORKDIR /app
# Owned by root and read-only to the service user: a compromised process cannot rewrite the code.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Read at start-up: dist/config/app-config.js loads ../../config/default.yaml.
COPY config ./config
COPY deploy/docker/healthcheck.js ./deploy/docker/healthcheck.js

ENV NODE_ENV=production \
    CHROMIUM_PATH=/usr/bin/chromium
USER 10001:10001
EXPOSE 3000 9123

# API: /health/live on PORT; a renderer container (nothing on PORT): /healthz on HEADLESS_PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.js"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# Run node directly: `npm start` would rebuild (prestart) and put npm between tini and node.
# The same node flags as `npm start` (package.json): a 16 MB young generation, Node 20's, keeps
# Node 24's scavenges of a million-session memory backend under 10 ms (bench P4: 31 ms without),
# and it stays 16 MB: at a moderate render rate V8 shrank it to 1-4 MB and scavenged every ~14
# renders (bench P2's API CPU per render in five runs each: 0.95-1.29 ms, median 1.10,
# without the minimum; 0.83-1.04 ms, median 0.96, with it).
CMD ["node", "--max-semi-space-size=16", "--min-semi-space-size=16", "dist/main.js"]
