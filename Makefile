# The two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

.PHONY: run test build generate check-generate vet fmt-check lint migrate-new clean-data node-deps graphiql bench

# Node projects (each with a package-lock.json): the offline GraphiQL build and the
# federation / GraphQL-over-HTTP / browser tests. npm ci runs again when a lockfile changes.
NODE_DIRS := web/graphiql test/federation test/browser
NODE_STAMPS := $(foreach d,$(NODE_DIRS),$(if $(wildcard $(d)/package-lock.json),$(d)/node_modules/.package-lock.json))
HAVE_NPM := $(shell command -v npm 2>/dev/null)

## run: start the server on :4003 (embedded PostgreSQL under .data/ when DATABASE_URL is unset)
run: graphiql
	$(GO) run .

## test: the whole suite (vet, formatting, race detector, real PostgreSQL started by the tests,
## federation and GraphQL-over-HTTP checks with Node, the playground in headless Chromium)
test: vet fmt-check graphiql
	$(GO) test -race -count=1 ./...
	# The storage layer again on the selectable pgx driver (DB_DRIVER=pgx).
	PGTEST_DRIVER=pgx $(GO) test -count=1 ./internal/postgres/

## node-deps: install the Node projects' dependencies from their lockfiles
node-deps: $(if $(HAVE_NPM),$(NODE_STAMPS))

%/node_modules/.package-lock.json: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error

## graphiql: build the GraphiQL assets served offline at /graphiql (needs npm; skipped without it)
graphiql: node-deps
ifneq ($(HAVE_NPM),)
	@if [ -f web/graphiql/package.json ]; then cd web/graphiql && npm run --silent build; fi
else
	@echo "npm not found: /graphiql will load GraphiQL from a CDN"
endif

## bench: performance harness of issue 7 against pgbench (e.g. make bench BENCH_FLAGS="-holders 1000000")
bench:
	$(GO) run ./bench $(BENCH_FLAGS)

## build: a static binary at bin/crm-registry
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/crm-registry .

## generate: regenerate gqlgen code from schema.graphqls
generate:
	$(GO) generate ./...

## check-generate: fail when `go generate` changes tracked files
check-generate: generate
	@git diff --exit-code -- . ':(exclude).ci' || (echo "go generate left a diff: run 'make generate' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- graph)" || (git status --porcelain -- graph; echo "go generate created untracked files" >&2; exit 1)

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## lint: vet + formatting (golangci-lint is used when installed)
lint: vet fmt-check
	@if command -v golangci-lint >/dev/null; then golangci-lint run; else echo "golangci-lint not installed: ran go vet and gofmt only"; fi

## migrate-new: create an up/down migration pair, e.g. make migrate-new name=add_index
migrate-new:
	@test -n "$(name)" || (echo "usage: make migrate-new name=what_it_does" >&2; exit 2)
	@n=$$(ls migrations/*.up.sql 2>/dev/null | sed -E 's|.*/0*([0-9]+)_.*|\1|' | sort -n | tail -1); \
	n=$$(printf '%06d' $$(( $${n:-0} + 1 ))); \
	touch migrations/$${n}_$(name).up.sql migrations/$${n}_$(name).down.sql; \
	echo "created migrations/$${n}_$(name).{up,down}.sql"

## clean-data: delete the embedded development database (all local data!)
clean-data:
	rm -rf .data
