################################################################################
#
# fuzz: a libFuzzer campaign over every harness in tests/fuzz
#
################################################################################
#   make fuzz                       60 s per target
#   make fuzz FUZZ_SECONDS=600      ten minutes per target
#   make fuzz FUZZ_RUNS=10000000    until 10^7 executions per target (or FUZZ_SECONDS, if set)
#   make fuzz FUZZ_TARGETS="http1 ws"
# Prints the executions and findings per target; what the campaign learnt stays
# in out/fuzz/corpus, crashes in out/fuzz/findings/<target> (docs/fuzzing.md
# says what to do with them). `make test` only replays tests/fuzz's inputs.

FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
FUZZ_TARGETS ?=

fuzz: deps-test
	@nice tests/fuzz/run campaign --seconds $(FUZZ_SECONDS) $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) $(FUZZ_TARGETS)

.PHONY: fuzz
