# Attacks beyond IFGSM through the whole chain (issue 23, docs/attacks.md § Through the pipeline).
#
# `make ATTACKS="ifgsm apgd-ce"` (or `<ds>.ATTACKS := …` in a dataset's .mk file) runs every
# downstream stage once per attack. ifgsm, the dataset's own `<ds>.ATTACK` settings, keeps the
# dataset folder and its file names, so with ATTACKS=ifgsm and no MINIMAL (the smoke profile)
# nothing here adds a rule and the plans are the same as without this file. Any other attack M gets its chain in
# <DATA>/<ds>/attacks/M/, laid out like a dataset folder (adv/, features/, attributes/,
# grounding/, metrics.h5, summary.txt, report/): its images, models, SJEs and clean features and
# attributes are links to the dataset's (made by ln, never recomputed), so the chain differs from
# ifgsm's only by the attack. <DATA>/<ds>/attacks/summary.txt (attack-summary) then gives, per
# model and eps, each attack's robust accuracy, the worst case per image over all of them, the
# general classifier's worst-case R, and the gradient-masking check.
# The attacks of each profile: the default runs a budgeted APGD-CE beside IFGSM, the full
# profile AutoAttack at its standard settings; the smoke profile (the tests' run) IFGSM only.
# `make ATTACKS="…"` replaces the profile's list.
ATTACKS.default := ifgsm apgd-ce
ATTACKS.full := ifgsm autoattack
ATTACKS.smoke := ifgsm
$(call command_line_or,ATTACKS,$(ATTACKS.$(PROFILE)))
# The settings of each attack in the chain (`--method` is added). Default profile: APGD-CE with
# 10 iterations, what its time budget affords (docs/attacks.md has the measured cost). Full
# profile: the standard settings of Croce & Hein 2020, AutoAttack's standard version (APGD-CE
# 100 iterations, one restart; APGD-T 100 iterations on each of 9 target classes; Square 5,000
# queries; attack's defaults for the rest).
ATTACK_SETTINGS.apgd-ce := --steps 10
ATTACK_SETTINGS.apgd-dlr := --steps 10
ATTACK_SETTINGS.square := --queries 1000
ATTACK_SETTINGS.autoattack := --steps 100 --queries 5000
ATTACK_SETTINGS.pgd :=
ifeq ($(PROFILE),full)
ATTACK_SETTINGS.apgd-ce := --steps 100
ATTACK_SETTINGS.apgd-dlr := --steps 100
ATTACK_SETTINGS.square := --queries 5000
else ifeq ($(PROFILE),smoke)
ATTACK_SETTINGS.apgd-ce := --steps 3
ATTACK_SETTINGS.apgd-dlr := --steps 3 --targets 3
ATTACK_SETTINGS.square := --queries 20
ATTACK_SETTINGS.autoattack := --steps 3 --targets 3 --queries 20
endif
ATTACK_METHODS := ifgsm pgd apgd-ce apgd-dlr square autoattack

# MARK: The minimal-norm attack (what the closest class pairs tell about attributes)

# MINIMAL=deepfool (default and full profiles) or cw-l2 attacks the standard model's test images
# with an L2 budget no image reaches (1000; a 32-px image is at most √3072 ≈ 55 from any other,
# a 224-px one 388), so every image it moves records the class it reached and its smallest
# perturbation. Its adversarials' features and predicted attributes (standard model, SJE) give
# attack-summary the closest (true, wrong) class pairs, the attributes that separate them and
# the attributes that moved; the report shows them. MINIMAL= (empty) switches it off.
MINIMAL.default := deepfool
MINIMAL.full := deepfool
MINIMAL.smoke :=
$(call command_line_or,MINIMAL,$(MINIMAL.$(PROFILE)))
MINIMAL_METHODS := deepfool cw-l2
$(if $(filter-out $(MINIMAL_METHODS),$(MINIMAL))$(filter-out 0 1,$(words $(MINIMAL))),\
    $(error MINIMAL='$(MINIMAL)': one of $(MINIMAL_METHODS), or empty))
MINIMAL_SETTINGS.deepfool := --l2-eps 1000 --steps 50
MINIMAL_SETTINGS.cw-l2 := --l2-eps 1000 --steps 50 --search-steps 5
ifeq ($(PROFILE),smoke)
MINIMAL_SETTINGS.deepfool := --l2-eps 1000 --steps 10
MINIMAL_SETTINGS.cw-l2 := --l2-eps 1000 --steps 10 --search-steps 2
endif

# The attacks of dataset $(1), and its chains other than ifgsm's (as pseudo-dataset names
# <ds>/attacks/<M>, so that every rule of common.mk applies to them unchanged).
attacks_of = $(or $($(1).ATTACKS),$(ATTACKS))
attack_chains_of = $(foreach m,$(filter-out ifgsm,$(call attacks_of,$(1))),$(1)/attacks/$(m))
ATTACK_CHAINS := $(strip $(foreach ds,$(DATASETS),$(call attack_chains_of,$(ds))))
$(foreach ds,$(DATASETS),$(foreach m,$(call attacks_of,$(ds)),$(if $(filter $(m),$(ATTACK_METHODS)),,\
    $(error ATTACKS: '$(m)' is not an L∞ attack of the pipeline (one of $(ATTACK_METHODS)); cw-l2 and deepfool take L2 budgets))))
# The datasets whose attacks attack-summary compares: more than one attack, or a minimal-norm one.
ATTACK_SUMMARY_DATASETS := $(strip $(foreach ds,$(DATASETS),$(if $(strip $(call attack_chains_of,$(ds)) $(MINIMAL)),$(ds))))
# The dataset's report page shows the summary and each chain's accuracy and R (report dataset
# --attacks): it follows them (common.mk's report_rules call these).
attack_report_inputs = $(if $(filter $(1),$(ATTACK_SUMMARY_DATASETS)),$(DATA)/$(1)/attacks/summary.json \
    $(foreach c,$(call attack_chains_of,$(1)),$(DATA)/$(c)/metrics.h5))
attack_report_options = $(if $(filter $(1),$(ATTACK_SUMMARY_DATASETS)), --attacks $(DATA)/$(1)/attacks/summary.json)

# $(call attack_link,CHAIN,DS,PATH): <DATA>/CHAIN/PATH is a relative link to <DATA>/DS/PATH.
# make follows links, so the link is as new as the file and reruns with it.
define attack_link
$(DATA)/$(1)/$(3): $(DATA)/$(2)/$(3)
	@mkdir -p $$(dir $$@) && ln -sfn $(if $(findstring /,$(3)),../)../../$(3) $$@
endef

# The files a chain of dataset $(1) links to (relative to the dataset folder): quantify and
# report read the clean ones too.
attack_linked_files = images.h5 $(foreach m,$(call models_of,$(1)),models/$(m).h5 sje/$(m).h5 \
    $(foreach s,$(SPLITS),features/$(m)-$(s).h5) attributes/$(m)-test.h5 $(if $(call ground_head,$(1)),$(call ground_head,$(1))/$(m).h5)) \
    $(if $(call ground_detector,$(1)),models/detector.h5)
attack_links_of = $(addprefix $(DATA)/$(1)/,$(call attack_linked_files,$(2)))

# $(1) the chain (<ds>/attacks/<M>), $(2) the dataset, $(3) the method. The settings are
# evaluated before the rules, which read them when they are expanded; the grounding settings
# (map method, detector: pipelines/grounding.mk) are the dataset's, its detector linked.
define attack_chain_settings
$(1).SEED := $($(2).SEED)
$(1).ROBUST_TRAINING := $($(2).ROBUST_TRAINING)
$(if $(call defined_value,$(2).GROUND_MAPS),$(1).GROUND_MAPS := $($(2).GROUND_MAPS))
$(if $(call ground_detector,$(2)),$(1).DETECTOR := $($(2).DETECTOR))
$(1).ATTACK := --method $(3) $(ATTACK_SETTINGS.$(3)) $(filter-out --method ifgsm,$($(2).ATTACK))
endef
define attack_chain
$(foreach f,$(call attack_linked_files,$(2)),
$(call attack_link,$(1),$(2),$(f)))
$(foreach e,$(EPSILONS),$(call attack_chain_rules,$(1),$(e),$(call robust_model,$(2),$(e)))
$(call ground_eps_rules,$(1),$(e),$(call robust_model,$(2),$(e))))
$(call ground_summary_rule,$(1))
$(call quantify_rule,$(1),$(2) ($(PROFILE) profile) under $(3),$(call dataset_kind,$(2)))
$(DATA)/$(1)/metrics.h5 $(DATA)/$(1)/report/index.html: $(call attack_links_of,$(1),$(2))
$(call report_rules,$(1))
endef
$(foreach ds,$(DATASETS),$(foreach c,$(call attack_chains_of,$(ds)),\
    $(eval $(call attack_chain_settings,$(c),$(ds),$(lastword $(subst /, ,$(c)))))\
    $(eval $(call attack_chain,$(c),$(ds),$(lastword $(subst /, ,$(c)))))))

# $(1) the dataset: attacks/<MINIMAL>/{adv,features,attributes}/standard.h5.
minimal_path = attacks/$(MINIMAL)/$(1)/standard.h5
define minimal_rules
$(call sharded_rule,$(1),$(call minimal_path,adv),attack,$(DATA)/$(1)/models/standard.h5 $(DATA)/$(1)/images.h5,\
    --images $(DATA)/$(1)/images.h5 --model $(DATA)/$(1)/models/standard.h5 --method $(MINIMAL) $(MINIMAL_SETTINGS.$(MINIMAL)) \
    $(filter-out --method ifgsm,$($(1).ATTACK)) --seed $($(1).SEED) --resume)
$(call sharded_rule,$(1),$(call minimal_path,features),extract-features,$(DATA)/$(1)/$(call minimal_path,adv) $(DATA)/$(1)/models/standard.h5,\
    --model $(DATA)/$(1)/models/standard.h5 --adversarial $(DATA)/$(1)/$(call minimal_path,adv))
$(call sharded_rule,$(1),$(call minimal_path,attributes),predict-attributes,$(DATA)/$(1)/sje/standard.h5 $(DATA)/$(1)/$(call minimal_path,features),\
    --sje $(DATA)/$(1)/sje/standard.h5 --features $(DATA)/$(1)/$(call minimal_path,features))
endef
$(if $(MINIMAL),$(foreach ds,$(DATASETS),$(eval $(call minimal_rules,$(ds)))))
minimal_inputs = $(if $(MINIMAL),$(DATA)/$(1)/images.h5 $(DATA)/$(1)/$(call minimal_path,adv) $(DATA)/$(1)/$(call minimal_path,attributes) \
    $(DATA)/$(1)/attributes/standard-test.h5)
# The five closest pairs of at least three images each (a median over one image says little).
minimal_options = $(if $(MINIMAL),--images $(DATA)/$(1)/images.h5 --minimal $(DATA)/$(1)/$(call minimal_path,adv) --pairs 5 --min-images 3 \
    --minimal-attributes $(DATA)/$(1)/$(call minimal_path,attributes) --clean-attributes $(DATA)/$(1)/attributes/standard-test.h5)

# MARK: The verdict over every attack

# Per dataset with more than one attack or a minimal-norm attack (attack-summary).
attack_files_of = $(foreach e,$(EPSILONS),$(foreach m,standard $(call robust_model,$(1),$(e)),\
    $(DATA)/$(1)/adv/$(m)-eps$(e).h5 $(foreach c,$(call attack_chains_of,$(1)),$(DATA)/$(c)/adv/$(m)-eps$(e).h5)))
define attack_summary_rule
$(call stage_rule,$(1),attacks/summary.json,attack-summary,$(call attack_files_of,$(1)) $(call minimal_inputs,$(1)),\
    --adversarial $(call attack_files_of,$(1)) $(call minimal_options,$(1)) --output $(DATA)/$(1)/attacks/summary.json \
    > $(DATA)/$(1)/attacks/summary.txt.tmp,\
    mv $(DATA)/$(1)/attacks/summary.txt.tmp $(DATA)/$(1)/attacks/summary.txt)
endef
$(foreach ds,$(ATTACK_SUMMARY_DATASETS),$(eval $(call attack_summary_rule,$(ds))))
ATTACK_FINALS = $(foreach c,$(ATTACK_CHAINS),$(call dataset_finals,$(c))) \
    $(foreach ds,$(ATTACK_SUMMARY_DATASETS),$(DATA)/$(ds)/attacks/summary.json)
