# Build a static binary, then ship it alone on a distroless base as non-root.
# Build metadata (make docker passes it from git):
#   docker build --build-arg VERSION=1.2.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) -t alertmanager-wecom .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Left empty, they read "unknown": .git is not in the build context
# (.dockerignore), so pass them as make docker does.
ARG VERSION=
ARG REVISION=
ARG BRANCH=
ARG BUILD_DATE=
RUN pkg=github.com/prometheus/common/version && \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w \
      -X $pkg.Version=${VERSION} -X $pkg.Revision=${REVISION} -X $pkg.Branch=${BRANCH} \
      -X $pkg.BuildUser=docker -X $pkg.BuildDate=${BUILD_DATE:-$(date -u +%Y%m%d-%H:%M:%S)}" \
      -o /out/alertmanager-wecom .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/alertmanager-wecom /bin/alertmanager-wecom
COPY examples/config.yml /etc/alertmanager-wecom/config.yml
USER nonroot:nonroot
EXPOSE 9096
# Asks http://127.0.0.1:9096/-/healthy. With another --web.listen-address or
# basic auth, override it: docker run --health-cmd '/bin/alertmanager-wecom
# --web.listen-address=:9199 healthcheck --http.config.file=/etc/alertmanager-wecom/healthcheck.yml'
HEALTHCHECK --interval=30s --timeout=5s CMD ["/bin/alertmanager-wecom", "healthcheck"]
ENTRYPOINT ["/bin/alertmanager-wecom"]
CMD ["--config.file=/etc/alertmanager-wecom/config.yml"]
