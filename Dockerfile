# syntax=docker/dockerfile:1
# virthostd beside libvirtd: mount the host's /var/run/libvirt and it talks to qemu:///system.

# Build: the official Swift image for Debian 12, the Swift release the tests run on (6.3).
FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libvirt-dev libmicrohttpd-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift names the test and benchmark targets too: SwiftPM refuses a package whose
# targets' folders are missing, so they are copied although only virthostd is built.
COPY Package.swift ./
COPY Sources ./Sources
COPY openapi ./openapi
COPY Tests ./Tests
COPY Benchmarks ./Benchmarks
RUN swift build -c release --product virthostd --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/virthostd" /out/virthostd

# Run: only the libraries the binary links (ldd: libvirt0, libmicrohttpd12 and theirs).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libvirt0 libmicrohttpd12 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 64055 libvirt \
    && useradd --system --uid 10001 --gid libvirt --no-create-home --shell /usr/sbin/nologin virthost
COPY --from=build /out/virthostd /usr/local/bin/virthostd
USER 10001:64055
# Beyond loopback it needs VIRTHOST_TOKENS_FILE (or mutual TLS) to start: mount the file.
ENV VIRTHOST_URI=qemu:///system \
    VIRTHOST_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/virthostd"]
