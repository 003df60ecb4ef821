# tollgate container image: Release build on Debian 12, then a debian:12-slim runtime holding only
# the shared libraries the binary links, running as the non-root user `tollgate`.
#   docker build -t tollgate .
#   docker run -p 8080:8080 -e OPENAI_API_KEY -e TOLLGATE_MASTER_KEY -v tollgate-data:/data tollgate
# Compose with Prometheus: docker/compose.yaml.

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# Dependencies first, so that editing sources does not reinstall them.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh
COPY . .
RUN cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_TESTS=OFF \
 && cmake --build build/release -j"$(nproc)" --target tollgate \
 && strip build/release/tollgate
# The Debian packages owning the libraries the binary really links (ldd), for the runtime stage.
# Today that is libyaml-cpp0.7 libspdlog1.10 libfmt9
# libprometheus-cpp-core1.0 libssl3 (+ libc6 libgcc-s1 libstdc++6, already in debian:12-slim);
# libsqlite3-0 / libhiredis0.14 follow automatically once the store links them.
RUN ldd build/release/tollgate | awk '/=> \// {print $3}' \
  | while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"; done \
  | cut -d: -f1 | sort -u > build/runtime-packages.txt \
 && echo "runtime packages: $(cat build/runtime-packages.txt)"

FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /src/build/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tzdata $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
RUN groupadd --system tollgate \
 && useradd --system --gid tollgate --home-dir /app --no-create-home --shell /usr/sbin/nologin tollgate \
 && mkdir -p /data \
 && chown tollgate:tollgate /data
COPY --from=build /src/build/release/tollgate /usr/local/bin/tollgate
# Fail the image build, not the first start, when a library is missing.
RUN if ldd /usr/local/bin/tollgate | grep 'not found'; then exit 1; fi \
 && /usr/local/bin/tollgate --version
# The default pricing file is config/prices.json, relative to the working directory.
COPY --from=build /src/config/prices.json /app/config/prices.json
COPY --from=build /src/config/tollgate.example.yaml /app/config/tollgate.example.yaml
WORKDIR /app
USER tollgate
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
