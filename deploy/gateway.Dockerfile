# codesync-gateway: multi-stage build, a Rust bookworm builder and a slim bookworm runtime.
# Build from the repository root: docker build -f deploy/gateway.Dockerfile -t codesync-gateway .
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# `tls`: the deployed engine is reached over https.
RUN cargo build --release --locked -p codesync-gateway --features tls

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 codesync \
    && mkdir -p /var/lib/codesync && chown codesync /var/lib/codesync
COPY --from=builder /src/target/release/codesync-gateway /usr/local/bin/codesync-gateway
USER codesync
# The gateway's own store holds updates while the engine is down. On Cloud Run that disk
# is in memory and per instance: clients keep unacknowledged edits and resend them on
# rejoin, so a gateway that dies during an engine outage still loses nothing.
ENV CODESYNC_LISTEN=0.0.0.0:8080 \
    CODESYNC_DATA=/var/lib/codesync \
    CODESYNC_TRUSTED_PROXY=cloud-run
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/codesync-gateway"]
