# keysmith: build on Node 20, run as an unprivileged user with the data directory on a volume.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
# npm ci runs prepare (npm run build): the service, then the operator console from ui/ into dist/ui.
COPY ui ./ui
COPY scripts ./scripts
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    KEYSMITH_DATA_DIR=/var/lib/keysmith \
    KEYSMITH_LISTEN=0.0.0.0:8443
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
RUN useradd --system --home /var/lib/keysmith keysmith && mkdir -p /var/lib/keysmith && chown keysmith /var/lib/keysmith && chmod 0700 /var/lib/keysmith
USER keysmith
VOLUME ["/var/lib/keysmith"]
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/src/cli/main.js", "health"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
