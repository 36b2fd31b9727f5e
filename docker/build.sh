#!/usr/bin/env bash
# Builds the ccrsim-node image from this checkout, with nothing from the
# network: a static ccrsim binary (glibc, crt-static) copied into a
# FROM scratch image by the legacy builder.
#
#   docker/build.sh [TAG]      (default: ccrsim-node:dev)
#
# The binary is built in target/image so that a build started by the test
# harness never waits on the lock of a running `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-ccrsim-node:dev}"
target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="$PWD/target/image"
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --locked --no-default-features --target "$target" --bin ccrsim
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "target/image/$target/release/ccrsim" "$ctx/ccrsim"
strip "$ctx/ccrsim" 2>/dev/null || true
cp docker/Dockerfile "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build --quiet --tag "$tag" \
  --label "org.opencontainers.image.source=ccrsim" \
  --label "org.ccrsim.built-at=$(date -u +%s)" "$ctx" >/dev/null
# The image this one replaced, if any, is left dangling: remove it.
docker image prune --force --filter "label=org.opencontainers.image.source=ccrsim" >/dev/null
echo "built $tag: $(docker image inspect --format '{{.Size}}' "$tag") bytes"
