# Counterfactual explanations (issue 24, docs/explain.md): per dataset, a targeted IFGSM towards
# the nearest and the farthest counter-class (by the class attribute vectors) against the
# standard model and the robust model, the features and attributes of those images, and
# `explain counterfactual` on each (explanations/<model>-<target>-eps<e>.h5); the confusion
# matrices of the untargeted attacks (explanations/confusions.h5); and across datasets the
# checks with bootstrap intervals (<DATA>/explanations/summary.txt, printed by `make`).

# The budgets explained (a subset of EPSILONS: the paper's middle eps, 0.03 px, when the run has
# it, else the largest) and the counter-classes; both can be set on the command line.
$(call command_line_or,EXPLAIN_EPSILONS,$(firstword $(filter 0.03,$(EPSILONS)) $(lastword $(EPSILONS))))
$(call command_line_or,EXPLAIN_TARGETS,nearest farthest)
# (attack --target class:<name> is not among them: a colon cannot be part of a make target.)
$(foreach t,$(EXPLAIN_TARGETS),$(if $(filter $(t),nearest farthest random),,$(error EXPLAIN_TARGETS: '$(t)' is not one of nearest farthest random)))
$(foreach word,$(EXPLAIN_EPSILONS) $(EXPLAIN_TARGETS),$(call require_quotable,EXPLAIN settings,$(word)))
$(foreach e,$(EXPLAIN_EPSILONS),$(if $(filter $(e),$(EPSILONS)),,$(error EXPLAIN_EPSILONS: $(e) is not one of EPSILONS ($(EPSILONS)))))

# $(1) dataset, $(2) model, $(3) counter-class choice, $(4) eps: the targeted attack, its
# features and attributes (common.mk's adversarial_features), and its explanation file.
define explain_target_rules
$(call stage_rule,$(1),adv/$(2)-$(3)-eps$(4).h5,attack,$(DATA)/$(1)/models/$(2).h5 $(DATA)/$(1)/images.h5,\
    --images $(DATA)/$(1)/images.h5 --model $(DATA)/$(1)/models/$(2).h5 --eps $(4) $($(1).ATTACK) --target $(3) \
    --seed $($(1).SEED) --resume --output $(DATA)/$(1)/adv/$(2)-$(3)-eps$(4).h5)
$(call adversarial_features,$(1),$(2)-$(3)-eps$(4),$(2),$(2)-$(3)-eps$(4))
$(call stage_rule,$(1),explanations/$(2)-$(3)-eps$(4).h5,explain,$(DATA)/$(1)/images.h5 $(DATA)/$(1)/sje/$(2).h5 $(DATA)/$(1)/models/$(2).h5 \
        $(DATA)/$(1)/adv/$(2)-$(3)-eps$(4).h5 $(DATA)/$(1)/attributes/$(2)-test.h5 $(DATA)/$(1)/attributes/$(2)-$(3)-eps$(4).h5 \
        $(DATA)/$(1)/attributes/$(2)-train.h5,\
    counterfactual --images $(DATA)/$(1)/images.h5 --sje $(DATA)/$(1)/sje/$(2).h5 --model $(DATA)/$(1)/models/$(2).h5 --adversarial $(DATA)/$(1)/adv/$(2)-$(3)-eps$(4).h5 \
    --clean-attributes $(DATA)/$(1)/attributes/$(2)-test.h5 --adversarial-attributes $(DATA)/$(1)/attributes/$(2)-$(3)-eps$(4).h5 \
    --train-attributes $(DATA)/$(1)/attributes/$(2)-train.h5 --seed $($(1).SEED) --output $(DATA)/$(1)/explanations/$(2)-$(3)-eps$(4).h5 \
    > /dev/null)
endef

explain_models = standard $(call robust_model,$(1),$(2))
explanation_files = $(foreach e,$(EXPLAIN_EPSILONS),$(foreach m,$(call explain_models,$(1),$(e)),\
    $(foreach t,$(EXPLAIN_TARGETS),$(DATA)/$(1)/explanations/$(m)-$(t)-eps$(e).h5)))

# The confusions of the untargeted attacks: the standard and the robust model at every eps.
confusion_models = $(foreach e,$(EPSILONS),standard:$(e) $(call robust_model,$(1),$(e)):$(e))
confusion_adversarial = $(foreach p,$(call confusion_models,$(1)),$(DATA)/$(1)/adv/$(subst :,-eps,$(p)).h5)
confusion_clean = $(foreach p,$(call confusion_models,$(1)),$(DATA)/$(1)/attributes/$(word 1,$(subst :, ,$(p)))-test.h5)
confusion_moved = $(foreach p,$(call confusion_models,$(1)),$(DATA)/$(1)/attributes/$(subst :,-adv-eps,$(p)).h5)
define explain_confusion_rule
$(call stage_rule,$(1),explanations/confusions.h5,explain,$(DATA)/$(1)/images.h5 $(call confusion_adversarial,$(1)) \
        $(sort $(call confusion_clean,$(1))) $(call confusion_moved,$(1)),\
    confusions --images $(DATA)/$(1)/images.h5 --adversarial $(call confusion_adversarial,$(1)) \
    --clean-attributes $(call confusion_clean,$(1)) --adversarial-attributes $(call confusion_moved,$(1)) \
    --seed $($(1).SEED) --output $(DATA)/$(1)/explanations/confusions.h5 > /dev/null)
endef

$(foreach ds,$(DATASETS),$(foreach e,$(EXPLAIN_EPSILONS),$(foreach m,$(call explain_models,$(ds),$(e)),$(foreach t,$(EXPLAIN_TARGETS),\
    $(eval $(call explain_target_rules,$(ds),$(m),$(t),$(e)))))))
$(foreach ds,$(DATASETS),$(eval $(call explain_confusion_rule,$(ds))))

# The report shows the explanations (ReportKit's counterfactual section).
$(foreach ds,$(DATASETS),$(eval $(DATA)/$(ds)/report/index.html: $(call explanation_files,$(ds)) $(DATA)/$(ds)/explanations/confusions.h5))
# `make <ds>` builds them too.
$(foreach ds,$(DATASETS),$(eval $(ds): $(call explanation_files,$(ds)) $(DATA)/$(ds)/explanations/confusions.h5))

# Across datasets: the checks with intervals (fine vs coarse when a pair of FINDINGS_PAIRS runs).
EXPLAIN_FILES = $(foreach ds,$(DATASETS),$(call explanation_files,$(ds)))
# (Stripped: the stamp holds the command with single spaces, and is compared as such.)
EXPLAIN_COMMAND := $(strip explain summary --explanations $(EXPLAIN_FILES) \
    $(if $(call findings_pair),--fine $(FINDINGS_FINE) --coarse $(FINDINGS_COARSE)) --seed 20 \
    --output $(DATA)/explanations/summary.json)
$(DATA)/explanations/summary.json: $(EXPLAIN_FILES) $(BIN)/explain $(DATA)/.settings/explanations/summary.json
	@mkdir -p $(DATA)/explanations
	$(RUN) $(BIN)/$(EXPLAIN_COMMAND) > $(DATA)/explanations/summary.txt.tmp
	mv $(DATA)/explanations/summary.txt.tmp $(DATA)/explanations/summary.txt
$(DATA)/explanations/summary.json: STAGE := explain
$(eval $(call settings_stamp,$(DATA)/.settings/explanations/summary.json,$(subst $(DATA)/,<DATA>/,$(EXPLAIN_COMMAND)),$(DATA)/explanations/summary.json))
$(eval $(call rerun_if_missing,$(DATA)/explanations/summary.json,$(DATA)/explanations/summary.txt))

EXPLAIN_FINALS = $(foreach ds,$(DATASETS),$(call explanation_files,$(ds)) $(DATA)/$(ds)/explanations/confusions.h5) \
    $(DATA)/explanations/summary.json
