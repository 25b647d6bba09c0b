# Pipeline rules shared by every dataset. A dataset's settings live in pipelines/<ds>.mk
# as `<ds>.NAME := value`; the rules below are generated per dataset, model and eps
# (so `make -n` shows the exact plan), and every artifact depends on its dataset's .mk
# file and on the stage binary that writes it: changing a setting or a stage reruns
# only what depends on it. Stages write atomically, so an interrupted run resumes.

PROFILE ?= quick
DATA := data
EPSILONS ?= 0.01 0.06 0.12
SYNTH_DATASETS := synth-fine synth-coarse
DATASET ?=
DATASETS := $(if $(DATASET),$(DATASET),$(SYNTH_DATASETS))
STAGES := prepare-data train adv-train attack extract-features fit-sje predict-attributes quantify inspect

include $(foreach ds,$(DATASETS),pipelines/$(ds).mk)

# A stage binary is current once the build stamp is; its own mtime then decides what reruns.
$(addprefix $(BIN)/,$(STAGES)): $(BIN)/%: $(BIN)/.built ;

ROBUST = $(foreach e,$(EPSILONS),robust-eps$(e))
MODELS = standard $(ROBUST)
# Adversarial-training settings for dataset $(1) at eps $(2): `<ds>.ADV_TRAIN.<e>` if the
# dataset sets one for that eps, else `<ds>.ADV_TRAIN`.
adv_train_settings = $(or $($(1).ADV_TRAIN.$(2)),$($(1).ADV_TRAIN))

# MARK: Targets

## all     : run the pipeline for DATASETS (default: both synthetic ones) and print the summaries
.PHONY: all
all: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/metrics.h5)
	@for ds in $(DATASETS); do echo; cat $(DATA)/$$ds/summary.txt; done
	@echo; echo "metrics: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/metrics.json)"

## data    : images.h5 for DATASETS
.PHONY: data
data: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/images.h5)

## models  : the standard and robust models for DATASETS
.PHONY: models
models: $(foreach ds,$(DATASETS),$(foreach m,$(MODELS),$(DATA)/$(ds)/models/$(m).h5))

# MARK: Rules per dataset

define dataset_rules
$(DATA)/$(1)/images.h5: pipelines/$(1).mk $(BIN)/prepare-data
	$(BIN)/prepare-data $($(1).PREPARE) --seed $($(1).SEED) --output $$@

$(DATA)/$(1)/models/standard.h5: $(DATA)/$(1)/images.h5 pipelines/$(1).mk $(BIN)/train
	$(BIN)/train --images $$< $($(1).TRAIN) --seed $($(1).SEED) --resume --output $$@

$(DATA)/$(1)/metrics.h5: $(foreach m,$(MODELS),$(DATA)/$(1)/sje/$(m).h5) \
    $(foreach m,$(MODELS),$(DATA)/$(1)/attributes/$(m)-test.h5) \
    $(foreach e,$(EPSILONS),$(DATA)/$(1)/attributes/standard-adv-eps$(e).h5 \
        $(DATA)/$(1)/attributes/robust-eps$(e)-adv-eps$(e).h5 $(DATA)/$(1)/attributes/robust-eps$(e)-transfer-eps$(e).h5) \
    pipelines/$(1).mk $(BIN)/quantify
	$(BIN)/quantify --dataset-dir $(DATA)/$(1) --eps $(EPSILONS) --name "$(1) ($(PROFILE) profile)" > $(DATA)/$(1)/summary.txt.tmp
	mv $(DATA)/$(1)/summary.txt.tmp $(DATA)/$(1)/summary.txt
endef

define eps_rules
$(DATA)/$(1)/models/robust-eps$(2).h5: $(DATA)/$(1)/models/standard.h5 $(DATA)/$(1)/images.h5 pipelines/$(1).mk $(BIN)/adv-train
	$(BIN)/adv-train --images $(DATA)/$(1)/images.h5 --init $$< --eps $(2) $(call adv_train_settings,$(1),$(2)) --seed $($(1).SEED) --resume --output $$@

$(DATA)/$(1)/adv/%-eps$(2).h5: $(DATA)/$(1)/models/%.h5 $(DATA)/$(1)/images.h5 pipelines/$(1).mk $(BIN)/attack
	$(BIN)/attack --images $(DATA)/$(1)/images.h5 --model $$< --eps $(2) $($(1).ATTACK) --seed $($(1).SEED) --resume --output $$@

$(DATA)/$(1)/features/standard-adv-eps$(2).h5: $(DATA)/$(1)/adv/standard-eps$(2).h5 $(DATA)/$(1)/models/standard.h5 $(BIN)/extract-features
	$(BIN)/extract-features --model $(DATA)/$(1)/models/standard.h5 --adversarial $$< --output $$@

$(DATA)/$(1)/features/robust-eps$(2)-adv-eps$(2).h5: $(DATA)/$(1)/adv/robust-eps$(2)-eps$(2).h5 $(DATA)/$(1)/models/robust-eps$(2).h5 $(BIN)/extract-features
	$(BIN)/extract-features --model $(DATA)/$(1)/models/robust-eps$(2).h5 --adversarial $$< --output $$@

$(DATA)/$(1)/features/robust-eps$(2)-transfer-eps$(2).h5: $(DATA)/$(1)/adv/standard-eps$(2).h5 $(DATA)/$(1)/models/robust-eps$(2).h5 $(BIN)/extract-features
	$(BIN)/extract-features --model $(DATA)/$(1)/models/robust-eps$(2).h5 --adversarial $$< --output $$@
endef

define model_rules
$(DATA)/$(1)/features/$(2)-%.h5: $(DATA)/$(1)/models/$(2).h5 $(DATA)/$(1)/images.h5 $(BIN)/extract-features
	$(BIN)/extract-features --model $$< --images $(DATA)/$(1)/images.h5 --split $$* --output $$@

$(DATA)/$(1)/sje/$(2).h5: $(DATA)/$(1)/features/$(2)-train.h5 $(DATA)/$(1)/features/$(2)-val.h5 $(DATA)/$(1)/images.h5 pipelines/$(1).mk $(BIN)/fit-sje
	$(BIN)/fit-sje --features $$< --val-features $(DATA)/$(1)/features/$(2)-val.h5 --images $(DATA)/$(1)/images.h5 $($(1).SJE) --seed $($(1).SEED) --output $$@

$(DATA)/$(1)/attributes/$(2)-%.h5: $(DATA)/$(1)/sje/$(2).h5 $(DATA)/$(1)/features/$(2)-%.h5 $(BIN)/predict-attributes
	$(BIN)/predict-attributes --sje $$< --features $(DATA)/$(1)/features/$(2)-$$*.h5 --output $$@
endef

$(foreach ds,$(DATASETS),$(eval $(call dataset_rules,$(ds))))
$(foreach ds,$(DATASETS),$(foreach e,$(EPSILONS),$(eval $(call eps_rules,$(ds),$(e)))))
$(foreach ds,$(DATASETS),$(foreach m,$(MODELS),$(eval $(call model_rules,$(ds),$(m)))))

# Intermediate artifacts are kept: they are what users inspect.
.SECONDARY:
