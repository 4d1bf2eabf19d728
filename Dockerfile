# Multi-stage build: compile with the full toolchain, run on a slim image as a non-root user.
FROM rust:1-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin acme-sectigo-bridge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/acme-sectigo-bridge --create-home bridge
COPY --from=build /src/target/release/acme-sectigo-bridge /usr/local/bin/acme-sectigo-bridge
COPY config/example.toml /etc/acme-sectigo-bridge/example.toml
USER bridge
WORKDIR /var/lib/acme-sectigo-bridge
ENV BRIDGE_SERVER__LISTEN=0.0.0.0:14000
# Without database.url the state is a SQLite file here (one instance); mount a volume to keep it, or
# set BRIDGE_DATABASE__URL to PostgreSQL to run replicas.
ENV BRIDGE_DATA_DIR=/var/lib/acme-sectigo-bridge/data
VOLUME /var/lib/acme-sectigo-bridge/data
EXPOSE 14000
ENTRYPOINT ["acme-sectigo-bridge"]
CMD ["serve"]
