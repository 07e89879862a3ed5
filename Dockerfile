# syntax=docker/dockerfile:1
# The operator's image: node and the package exactly as `npm pack` ships it, installed with production dependencies
# only, run as uid 65532 on a read-only root filesystem (deploy/deployment.yaml). Build it from the repository root:
#   docker build -t REGISTRY/member-watch:0.1.0 .
# test/integration/deploy.test.ts runs the same steps without an image: pack, install, run as 65532 with a read-only root.

# 1. build: the whole toolchain, to bundle dist/ and pack the tarball
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm pack --pack-destination /pack

# 2. install: the tarball into an empty folder, production dependencies only
FROM node:24-bookworm-slim AS install
WORKDIR /app
COPY --from=build /pack/ /pack/
RUN npm install --omit=dev --no-audit --no-fund --no-save --prefix /app /pack/member-watch-*.tgz

# 3. run: no shell, no package manager; the files belong to root, so the operator cannot change them
FROM gcr.io/distroless/nodejs24-debian12:nonroot
COPY --from=install /app/node_modules /app/node_modules
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/node_modules/member-watch/bin/member-watch.js"]
CMD ["operator"]
