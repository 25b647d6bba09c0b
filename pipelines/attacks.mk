# Attacks beyond IFGSM through the whole chain (issue 23, docs/attacks.md § Through the pipeline).
#
# `make ATTACKS="ifgsm apgd-ce"` (or `<ds>.ATTACKS := …` in a dataset's .mk file) runs every
# downstream stage once per attack. ifgsm, the dataset's own `<ds>.ATTACK` settings, keeps the
# dataset folder and its file names, so with the default ATTACKS=ifgsm nothing here adds a rule
# and the plans of a run are the same as without this file. Any other attack M gets its chain in
# <DATA>/<ds>/attacks/M/, laid out like a dataset folder (adv/, features/, attributes/,
# grounding/, metrics.h5, summary.txt, report/): its images, models, SJEs and clean features and
# attributes are links to the dataset's (made by ln, never recomputed), so the chain differs from
# ifgsm's only by the attack. <DATA>/<ds>/attacks/summary.txt (attack-summary) then gives, per
# model and eps, each attack's robust accuracy, the worst case per image over all of them, the
# general classifier's worst-case R, and the gradient-masking check.
$(call command_line_or,ATTACKS,ifgsm)
# The settings of each attack in the chain (`--method` is added); what the default profile can
# afford: APGD-CE with 10 iterations (docs/attacks.md has its measured cost); the full profile
# runs AutoAttack's standard settings.
ATTACK_SETTINGS.apgd-ce := --steps 10
ATTACK_SETTINGS.apgd-dlr := --steps 10
ATTACK_SETTINGS.square := --queries 1000
ATTACK_SETTINGS.autoattack := --steps 100 --queries 5000
ATTACK_SETTINGS.pgd :=
ifeq ($(PROFILE),smoke)
ATTACK_SETTINGS.apgd-ce := --steps 3
ATTACK_SETTINGS.apgd-dlr := --steps 3 --targets 3
ATTACK_SETTINGS.square := --queries 20
ATTACK_SETTINGS.autoattack := --steps 3 --targets 3 --queries 20
endif
ATTACK_METHODS := ifgsm pgd apgd-ce apgd-dlr square autoattack

# The attacks of dataset $(1), and its chains other than ifgsm's (as pseudo-dataset names
# <ds>/attacks/<M>, so that every rule of common.mk applies to them unchanged).
attacks_of = $(or $($(1).ATTACKS),$(ATTACKS))
attack_chains_of = $(foreach m,$(filter-out ifgsm,$(call attacks_of,$(1))),$(1)/attacks/$(m))
ATTACK_CHAINS := $(strip $(foreach ds,$(DATASETS),$(call attack_chains_of,$(ds))))
$(foreach ds,$(DATASETS),$(foreach m,$(call attacks_of,$(ds)),$(if $(filter $(m),$(ATTACK_METHODS)),,\
    $(error ATTACKS: '$(m)' is not an L∞ attack of the pipeline (one of $(ATTACK_METHODS)); cw-l2 and deepfool take L2 budgets))))

# $(call attack_link,CHAIN,DS,PATH): <DATA>/CHAIN/PATH is a relative link to <DATA>/DS/PATH.
# make follows links, so the link is as new as the file and reruns with it.
define attack_link
$(DATA)/$(1)/$(3): $(DATA)/$(2)/$(3)
	@mkdir -p $$(dir $$@) && ln -sfn $(if $(findstring /,$(3)),../)../../$(3) $$@
endef

# The files a chain of dataset $(1) links to (relative to the dataset folder): quantify and
# report read the clean ones too.
attack_linked_files = images.h5 $(foreach m,$(call models_of,$(1)),models/$(m).h5 sje/$(m).h5 \
    $(foreach s,$(SPLITS),features/$(m)-$(s).h5) attributes/$(m)-test.h5)
attack_links_of = $(addprefix $(DATA)/$(1)/,$(call attack_linked_files,$(2)))

# $(1) the chain (<ds>/attacks/<M>), $(2) the dataset, $(3) the method. The settings are
# evaluated before the rules, which read them when they are expanded.
define attack_chain_settings
$(1).SEED := $($(2).SEED)
$(1).ROBUST_TRAINING := $($(2).ROBUST_TRAINING)
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

# Per dataset with more than one attack: the verdict over all of them (attack-summary).
attack_files_of = $(foreach e,$(EPSILONS),$(foreach m,standard $(call robust_model,$(1),$(e)),\
    $(DATA)/$(1)/adv/$(m)-eps$(e).h5 $(foreach c,$(call attack_chains_of,$(1)),$(DATA)/$(c)/adv/$(m)-eps$(e).h5)))
define attack_summary_rule
$(call stage_rule,$(1),attacks/summary.json,attack-summary,$(call attack_files_of,$(1)),\
    --adversarial $(call attack_files_of,$(1)) --output $(DATA)/$(1)/attacks/summary.json > $(DATA)/$(1)/attacks/summary.txt.tmp,\
    mv $(DATA)/$(1)/attacks/summary.txt.tmp $(DATA)/$(1)/attacks/summary.txt)
endef
ATTACK_SUMMARY_DATASETS := $(strip $(foreach ds,$(DATASETS),$(if $(strip $(call attack_chains_of,$(ds))),$(ds))))
$(foreach ds,$(ATTACK_SUMMARY_DATASETS),$(eval $(call attack_summary_rule,$(ds))))
ATTACK_FINALS = $(foreach c,$(ATTACK_CHAINS),$(call dataset_finals,$(c))) \
    $(foreach ds,$(ATTACK_SUMMARY_DATASETS),$(DATA)/$(ds)/attacks/summary.json)
