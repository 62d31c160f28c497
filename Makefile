# The test command of the README and CI: installs Alertmanager for the
# end-to-end tests when it is missing, vets, and runs every test with -race.
.PHONY: build test fmt-check bench fuzz soak

build:
	go build -o alertmanager-wecom .

test:
	./scripts/install-alertmanager.sh
	go vet ./...
	go test -race -count=1 ./...

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

bench:
	go test -run '^$$' -bench . -benchmem ./receiver

fuzz:
	./scripts/fuzz.sh

soak: build
	go run ./bench/soak -bin ./alertmanager-wecom -duration 10m
