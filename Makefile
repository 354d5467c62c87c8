# sever — run `make help` for the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/sever
TOOLS := $(shell $(GO) env GOPATH)/bin

# Packages that link the embedded Temporal server are tested without -race: a race
# build of the server alone takes over ten minutes on two cores. Everything else
# runs with -race.
SERVER_PKGS = $(shell $(GO) list -test -deps=false -f '{{if .ForTest}}{{.ForTest}}{{else}}{{.ImportPath}}{{end}} {{range .Deps}}{{if eq . "go.temporal.io/server/temporal"}}SERVER{{end}}{{end}}' ./... | awk '/SERVER/ && $$1 !~ /\.test$$/ {print $$1}' | sort -u)
ALL_PKGS    = $(shell $(GO) list ./...)
RACE_PKGS   = $(filter-out $(SERVER_PKGS),$(ALL_PKGS))

.PHONY: help build run test test-race test-server test-cluster check fuzz bench chaos tools clean

help: ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/sever
	$(GO) build -o $(BIN) ./cmd/sever

run: build ## start sever dev (embedded Temporal, worker, API, Web UI) and run a demo incident
	./$(BIN) dev --demo

test: test-race test-server ## run every test (race detector where the server is not linked)

test-race:
	$(GO) test -race -count=1 $(RACE_PKGS)

test-server:
	$(GO) test -count=1 -timeout 20m $(SERVER_PKGS)

check: tools ## gofmt, go vet, staticcheck and Temporal's workflowcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	$(TOOLS)/workflowcheck -config workflows/workflowcheck.yaml ./workflows/...

fuzz: ## run every fuzz target for a short while (FUZZTIME=20s)
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$t/*_test.go | sed 's/func //'); do \
			echo "== $$t $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$${FUZZTIME:-20s} -fuzzminimizetime=5s $$t || exit 1; \
		done; done

# test-cluster runs sever the way the README's "Scale out" section deploys it: Temporal's
# own server (built from the pinned go.temporal.io/server, frontend, history, matching
# and worker as separate processes) on a scratch PostgreSQL (Debian's postgresql
# package), then sever serve and two sever workers, under worker SIGKILLs and
# drill-cloud faults. The Go build cache makes the rebuilds cheap.
test-cluster: ## real Temporal cluster on PostgreSQL, sever serve and two workers, chaos workload
	@mkdir -p bin
	$(GO) build -o bin/sever ./cmd/sever
	$(GO) build -o bin/temporal-server go.temporal.io/server/cmd/server
	$(GO) build -o bin/temporal-sql-tool go.temporal.io/server/cmd/tools/sql
	@start=$$(date +%s); \
	SEVER_CLUSTER_BIN=$(CURDIR)/bin $(GO) test -tags cluster -count=1 -timeout 20m -v -run '^TestCluster$$' ./tests/cluster; rc=$$?; \
	echo "test-cluster: $$(( $$(date +%s) - start ))s wall time (after the build)"; exit $$rc

bench: ## measure time to contain and throughput against a bare-workflow floor
	$(GO) run ./bench -out bench/results.json

chaos: ## the fault suite at full size: 20 incidents under random worker kills, crashes around ledger appends, scale-out, restarts
	set -o pipefail; SEVER_CHAOS_INCIDENTS=$${SEVER_CHAOS_INCIDENTS:-20} $(GO) test -count=1 -timeout 30m -v -run 'Chaos|Killed|ScaleOut|Restart|BadInput|Slack|Forged|Squatting|Flood' ./tests | grep -E '^(=== RUN|--- |\s+\S+_test\.go:|ok|FAIL|PASS)'

tools: ## install the checkers make check uses
	@test -x $(TOOLS)/staticcheck || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	@test -x $(TOOLS)/workflowcheck || GOFLAGS= $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0

clean: ## remove build output (not the .sever data dir)
	rm -rf bin

# The container image (deploy/Dockerfile) is FROM scratch: the binary is built here,
# static, and the host's CA bundle is copied beside it, so the build downloads nothing.
IMAGE     ?= sever:local
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
.PHONY: image image-files

image-files: ## build bin/image/: the static sever binary (checked) and the host's CA bundle
	mkdir -p bin/image
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/image/sever ./cmd/sever
	SEVER_STATIC_BINARY=$(CURDIR)/bin/image/sever $(GO) test -count=1 -run '^TestStaticBinary$$' ./deploy/
	cp $(CA_BUNDLE) bin/image/ca-certificates.crt

image: image-files ## build the container image (IMAGE=sever:local) from bin/image/ with docker
	docker build -f deploy/Dockerfile -t $(IMAGE) bin/image
