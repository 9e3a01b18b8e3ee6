# Isartor in a container: the binary only, as a non-root user.
#   docker build -t isartor .
#   docker run -p 8080:8080 -e ISARTOR__GATEWAY_API_KEY=... -e ISARTOR__EXTERNAL_LLM_API_KEY=... isartor
# It listens on 0.0.0.0:8080 inside the container, so set a gateway key (docs/deployment.md).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin isartor

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 isartor
COPY --from=build /src/target/release/isartor /usr/local/bin/isartor
USER isartor
ENV ISARTOR__HOST_PORT=0.0.0.0:8080 \
    ISARTOR__PROXY__ENABLED=false
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["isartor"]
CMD ["up"]
