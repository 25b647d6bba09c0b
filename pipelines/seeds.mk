# Several seeds: `make SEEDS="1 2 3"` runs each dataset's whole chain once per seed, each in
# its own folder <DATA>/seed-<s>/ (every dataset seeded with s), then aggregates: every claim
# of docs/claims.md over the seeds (per-seed values, mean, sd, a 95% bootstrap over seeds and
# test images, the verdict) in <DATA>/seeds/metrics.json and summary.txt, and the page
# <DATA>/seeds/report/index.html, which draws each seed's value as a dot beside the interval.
# Without SEEDS (the default) one seed per dataset runs (pipelines/<ds>.mk's <ds>.SEED) and
# its summary says that its intervals cover test-image sampling only.
#
# SEED=S (command line, common.mk) seeds every dataset with S; the per-seed runs are sub-makes with
# SEED=s DATA=<DATA>/seed-s, so each one keeps the make contract on its own folder, and the
# aggregate reruns only when a seed's metrics (or quantify, report, the seed list) change.

SEED_RUNS = $(foreach s,$(SEEDS),$(DATA)/seed-$(s))
SEEDS_FOLDER = $(DATA)/seeds
SEEDS_AGGREGATE := quantify --aggregate $(SEED_RUNS) --datasets $(DATASETS) --output $(SEEDS_FOLDER)

ifneq ($(strip $(SEEDS)),)
ifneq ($(strip $(SEED)),)
$(error give SEEDS (several runs) or SEED (one run), not both)
endif
## seeds   : `make SEEDS="1 2 3"`: every dataset's chain per seed (<DATA>/seed-<s>/) and the
##           aggregate over the seeds (<DATA>/seeds/summary.txt, metrics.json, report/index.html)
.PHONY: all seeds
all: seeds
seeds:
	@set -e; for s in $(SEEDS); do echo "== seed $$s: $(DATA)/seed-$$s (started $$(date -u +%H:%M:%S) UTC)"; \
	  $(MAKE) --no-print-directory all SEEDS= SEED=$$s DATA=$(DATA)/seed-$$s; done
	@echo "== aggregate over seeds $(SEEDS) (started $$(date -u +%H:%M:%S) UTC)"
	@$(MAKE) --no-print-directory SEEDS="$(SEEDS)" $(SEEDS_FOLDER)/report/index.html
	@echo; cat $(SEEDS_FOLDER)/summary.txt
	@echo; echo "per seed: $(SEED_RUNS)"; echo "aggregate: $(SEEDS_FOLDER)/metrics.json"
	@echo "report: $(SEEDS_FOLDER)/report/index.html"

$(SEEDS_FOLDER)/metrics.json: $(foreach r,$(SEED_RUNS),$(foreach ds,$(DATASETS),$(r)/$(ds)/metrics.h5)) $(BIN)/quantify \
    $(DATA)/.settings/seeds/metrics.json
	@mkdir -p $(SEEDS_FOLDER)
	$(RUN) $(BIN)/$(SEEDS_AGGREGATE) > /dev/null
$(SEEDS_FOLDER)/metrics.json: STAGE := quantify
$(eval $(call settings_stamp,$(DATA)/.settings/seeds/metrics.json,$(subst $(DATA)/,<DATA>/,$(SEEDS_AGGREGATE)),$(SEEDS_FOLDER)/metrics.json))

$(SEEDS_FOLDER)/report/index.html: $(SEEDS_FOLDER)/metrics.json $(BIN)/report
	$(RUN) $(BIN)/report seeds --folder $(SEEDS_FOLDER) > /dev/null
$(SEEDS_FOLDER)/report/index.html: STAGE := report
endif
