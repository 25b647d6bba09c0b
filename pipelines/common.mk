# Pipeline settings and rules shared by every dataset. A dataset's own settings live in
# pipelines/<ds>.mk as `<ds>.NAME := value`; rules read them as $($*.NAME), and each
# artifact depends on its dataset's .mk file and on the stage binary that writes it,
# so changing a setting or a stage reruns only what depends on it.

PROFILE ?= quick
SYNTH_DATASETS := synth-fine synth-coarse
DATA := data

include pipelines/synth-fine.mk pipelines/synth-coarse.mk

# A stage binary is current once the build stamp is: its own mtime then decides.
$(BIN)/%: $(BIN)/.built ;

# MARK: Pipeline targets

## all     : the quick pipeline on the synthetic datasets (PROFILE=full for the longer one)
.PHONY: all
all: $(foreach ds,$(SYNTH_DATASETS),$(DATA)/$(ds)/images.h5)
	@for f in $^; do $(BIN)/inspect --provenance-only $$f; echo; done

## data    : prepare-data for both synthetic datasets
.PHONY: data
data: $(foreach ds,$(SYNTH_DATASETS),$(DATA)/$(ds)/images.h5)

$(DATA)/synth-%/images.h5: pipelines/synth-%.mk $(BIN)/prepare-data
	$(BIN)/prepare-data --dataset synth-$* --size $(synth-$*.SIZE) \
	  --images-per-class $(synth-$*.IMAGES_PER_CLASS) --seed $(synth-$*.SEED) --output $@
