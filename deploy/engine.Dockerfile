# codesync-engine: multi-stage build, a Rust bookworm builder and a slim bookworm runtime.
# Build from the repository root: docker build -f deploy/engine.Dockerfile -t codesync-engine .
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p codesync-engine

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 codesync
COPY --from=builder /src/target/release/codesync-engine /usr/local/bin/codesync-engine
USER codesync
# Cloud Run sends traffic to 8080. The secret (CODESYNC_INTERNAL_AUTH) and the store
# (CODESYNC_POSTGRES_URL) come from the service definition, never from the image.
ENV CODESYNC_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/codesync-engine"]
