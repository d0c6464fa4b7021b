# A static webmon image: the binary built against musl, on an empty base.
#
#   docker build -t webmon .
#   docker run --rm -p 8080:8080 -v "$PWD/examples:/checks:ro" -v webmon-data:/data \
#     webmon run --config /checks/checks.yaml --db /data/webmon.db --bind 0.0.0.0
#
# The dashboard has no login: publish its port on loopback or behind a trusted proxy.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p webmon \
    && install -D -m 0755 target/release/webmon /out/webmon \
    && install -d -m 0750 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/webmon /webmon
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV WEBMON_DB=/data/webmon.db
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/webmon"]
CMD ["run", "--config", "/checks/checks.yaml", "--bind", "0.0.0.0"]
