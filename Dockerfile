# syntax=docker/dockerfile:1
# The operator's image: node and the package exactly as `npm pack` ships it (a self-contained bundle that installs no
# dependency), run as uid 65532 on a read-only root filesystem (deploy/deployment.yaml). From the repository root:
#   docker build -t REGISTRY/member-watch:0.1.0 .
# test/integration/deploy.test.ts runs what it holds without an image: the tarball of a fresh clone installed the same
# way (test/harness/packed.ts), run as 65532 with a read-only root and the deploy's ServiceAccount.

# 1. build: the whole toolchain; prepack bundles dist/
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm pack --pack-destination /pack

# 2. install: the tarball alone into an empty prefix, as a user's `npm install --global` does
FROM node:24-bookworm-slim AS install
COPY --from=build /pack/ /pack/
RUN npm install --global --prefix /app --no-audit --no-fund /pack/member-watch-*.tgz

# 3. run: no shell, no package manager; the files belong to root, so the operator cannot change them
FROM gcr.io/distroless/nodejs24-debian12:nonroot
COPY --from=install /app /app
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/lib/node_modules/member-watch/bin/member-watch.js"]
CMD ["operator"]
