# Build a static binary, then ship it alone on a distroless base as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/alertmanager-wecom .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/alertmanager-wecom /bin/alertmanager-wecom
COPY examples/config.yml /etc/alertmanager-wecom/config.yml
USER nonroot:nonroot
EXPOSE 9096
HEALTHCHECK --interval=30s --timeout=5s CMD ["/bin/alertmanager-wecom", "healthcheck"]
ENTRYPOINT ["/bin/alertmanager-wecom"]
CMD ["--config.file=/etc/alertmanager-wecom/config.yml"]
