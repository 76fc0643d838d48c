################################################################################
#
# Pullbox: top-level orchestration only
#
################################################################################
#   make            build everything that exists (today: pullboxd)
#   make run        run the product (today: pullboxd on this machine)
#   make test       run every test (unit under ASan/UBSan, integration, SDK)
#   make bench      benchmarks against nginx + Nchan and Redis (docs/benchmarks.md)
#   make clean

O := $(CURDIR)/out
export O

all: deps-build
	@$(MAKE) --no-print-directory server

server:
	@$(MAKE) --no-print-directory -C server O=$(O)

server-san:
	@$(MAKE) --no-print-directory -C server O=$(O) SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer" CFLAGS="-O1 -g"

run: deps-build server
	@scripts/pullbox-run

test: deps-test
	@$(MAKE) --no-print-directory server server-san
	@tests/run

deps-build:
	@scripts/setup-deps build

deps-test:
	@scripts/setup-deps test

# the side-by-side benchmark against nginx + Nchan and Redis (installs the peers, ~40 min);
# BENCH_ARGS=--quick for a 7-minute smoke test
bench: deps-build
	@bench/run $(BENCH_ARGS)

clean:
	rm -rf $(O)

.PHONY: all server server-san run test bench clean deps-build deps-test
