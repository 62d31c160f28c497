# The test command of the README and CI: installs Alertmanager for the
# end-to-end tests when it is missing, vets, and runs every test with -race.
.PHONY: build docker test fmt-check bench fuzz soak

# Build metadata for --version, build_info and /api/v1/status, set as promu
# does through github.com/prometheus/common/version; from git when there is
# one, or on the command line: make build VERSION=1.2.0 REVISION=abc123.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_USER ?= $(shell whoami)@$(shell hostname)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
VERSION_PKG = github.com/prometheus/common/version
LDFLAGS = -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

build:
	go build -ldflags "$(LDFLAGS)" -o alertmanager-wecom .

docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
		--build-arg BRANCH=$(BRANCH) -t alertmanager-wecom .

test:
	./scripts/install-alertmanager.sh
	go vet ./...
	go test -race -count=1 ./...

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

bench:
	go test -run '^$$' -bench . -benchmem ./receiver ./templates

fuzz:
	./scripts/fuzz.sh

soak: build
	go run ./bench/soak -bin ./alertmanager-wecom -duration 10m
