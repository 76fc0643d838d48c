################################################################################
#
# Pullbox: top-level orchestration only
#
################################################################################
#   make            build pullboxd and the appliance image (out/images: raw, qcow2, vmdk, vhdx, ova)
#   make update     the signed update bundle out/images/pullbox-<version>.pbu (appliance/README.md)
#   make run        build what is missing and boot the appliance in QEMU, ports on 127.0.0.1
#   make run-local  run pullboxd on this machine instead (no image)
#   make test       run every test (unit under ASan/UBSan, integration, SDK, image boot in QEMU)
#   make check      the fast part: unit and integration tests, no apt, no image (a few minutes)
#   make bench      benchmarks against nginx + Nchan and Redis (docs/benchmarks.md)
#   make fuzz       a libFuzzer campaign per parser (FUZZ_SECONDS=60 each; docs/fuzzing.md)
#   make clean

O := $(CURDIR)/out
export O

all: deps-build
	@$(MAKE) --no-print-directory server
	@$(MAKE) --no-print-directory image update

server:
	@$(MAKE) --no-print-directory -C server O=$(O)

server-san:
	@$(MAKE) --no-print-directory -C server O=$(O) SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer" CFLAGS="-O1 -g"

config-ui:
	@$(MAKE) --no-print-directory -C config-ui O=$(O)

config-ui-san:
	@$(MAKE) --no-print-directory -C config-ui O=$(O) SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer" CFLAGS="-O1 -g"

run: deps-build server
	@$(MAKE) --no-print-directory run-image

run-local: deps-build server
	@scripts/pullbox-run

test: deps-test
	@$(MAKE) --no-print-directory server server-san config-ui config-ui-san
	@$(MAKE) --no-print-directory image update
	@tests/run

# the fast check while changing code: what is installed already, no image build or boot
check:
	@$(MAKE) --no-print-directory server server-san config-ui config-ui-san
	@tests/run unit integration

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

.PHONY: all server server-san config-ui config-ui-san run run-local test check bench clean deps-build deps-test

# ---- the appliance image: mk/appliance.mk (packages, rootfs, disk, OVA; appliance/README.md) ----
# image: out/images/pullbox-<version>.{raw,qcow2,vmdk,vhdx,ova} + SHA256SUMS;  ova;  check-image
# (QEMU boot test, TAP);  run-image (make run);  packer-check;  image-clean;  <pkg>, <pkg>-dirclean
include mk/appliance.mk
include mk/fuzz.mk
