# Pipeline rules shared by every dataset. A dataset's settings live in pipelines/<ds>.mk
# as `<ds>.NAME := value`, one block per profile. Every artifact is an explicit target
# (rules generated per dataset, model and eps, so `make -n` shows the exact plan and no
# artifact is ever an "intermediate" make may skip), and its prerequisites are its input
# artifacts, the stage binary that writes it and its settings stamp (below): deleting an
# artifact, changing a setting or rebuilding a stage reruns exactly what depends on it.
# Stages write atomically, and train, adv-train and attack resume, so an interrupted run
# continues where it stopped. The make contract: docs/design.md § Make contract.

# MARK: Profile and data folder

## Profiles: PROFILE=default (the default), smoke (tiny: every stage in seconds), full (long).
## The default profile writes under data/, the others under data/<profile>/; DATA=DIR
## puts the artifacts of this run in DIR instead, DATA_ROOT=DIR moves data/ as a whole.
PROFILES := default smoke full
PROFILE ?= default
ifeq ($(PROFILE),quick)
$(error PROFILE=quick is now PROFILE=default (the same settings, written under data/))
endif
ifneq ($(words $(PROFILE)) $(filter $(PROFILE),$(PROFILES)),1 $(PROFILE))
$(error unknown PROFILE '$(PROFILE)': choose one of $(PROFILES))
endif
# Only the command line sets these: an unrelated DATA in the environment must not move the
# artifacts.
$(call command_line_or,DATA_ROOT,data)
$(call command_line_or,DATA,$(if $(filter default,$(PROFILE)),$(DATA_ROOT),$(DATA_ROOT)/$(PROFILE)))

# The eps list of each profile, L∞ budgets in [0, 1] pixel units (the unit of every stage).
# default and full use the paper's budgets: the authors attacked inputs scaled to [−1, 1], so
# their ε 0.01, 0.06, 0.12 are 0.005, 0.03, 0.06 here (PAPER_EPSILONS, docs/claims.md).
# `make EPSILONS="0.01 0.06 0.12"` runs the paper's numbers as pixel budgets instead (twice
# as strong; the default before issue 20); any list replaces the profile's.
PAPER_EPSILONS := 0.005 0.03 0.06
EPSILONS.default := $(PAPER_EPSILONS)
EPSILONS.smoke := 0.03 0.06
EPSILONS.full := $(PAPER_EPSILONS)
EPSILONS ?= $(EPSILONS.$(PROFILE))

# Every stage binary the rules run, and those that get a per-dataset target (`make <ds>-<stage>`).
STAGES := prepare-data import-weights train adv-train attack attack-summary extract-features fit-sje predict-attributes ground \
    quantify report explain inspect merge-shards train-detector fit-apn
DATASET_STAGES := prepare-data train adv-train attack extract-features fit-sje predict-attributes ground quantify report explain
SYNTH_DATASETS := synth-fine synth-coarse
KNOWN_DATASETS := $(SYNTH_DATASETS) cub awa2 lad
DATASET ?=
# The datasets named by the goals (`make synth-fine`, `make cub-attack`), in KNOWN_DATASETS order.
GOAL_DATASETS := $(strip $(foreach ds,$(KNOWN_DATASETS),$(if $(filter $(ds) $(addprefix $(ds)-,$(DATASET_STAGES)),$(MAKECMDGOALS)),$(ds))))
DATASETS := $(or $(DATASET),$(GOAL_DATASETS),$(SYNTH_DATASETS))

# A dataset that sets `<ds>.WEIGHTS` (a torchvision safetensors file) and `<ds>.ARCH`
# fine-tunes those weights with a new head instead of training from random weights.
$(foreach ds,$(DATASETS),$(eval $(ds).WEIGHTS :=))
include pipelines/real-dataset.mk
include $(foreach ds,$(DATASETS),pipelines/$(ds).mk)
# SEED=S (command line) seeds every dataset with S (make SEEDS="1 2 3" runs one such chain per
# seed: pipelines/seeds.mk).
$(call command_line_or,SEED,)
$(call command_line_or,SEEDS,)
$(if $(strip $(SEED)),$(foreach ds,$(DATASETS),$(eval $(ds).SEED := $(SEED))))
# MARK: Values make cannot quote

# Paths and names from the command line end up unquoted in recipes and in the shell commands
# make runs while it reads this file (settings stamps), where a space splits a path in two
# (`DATA=/x/My Data` wrote a stamp over /x/My and created ./Data) and a shell character runs.
# So each is refused here, before any rule exists, unless it is one word of these characters.
SAFE_CHARACTERS := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z \
    0 1 2 3 4 5 6 7 8 9 - _ . / + @ % : , = ~
# $(call unsafe_characters,TEXT,CHARACTERS): TEXT without any of CHARACTERS.
unsafe_characters = $(if $(2),$(call unsafe_characters,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
# $(call require_quotable,NAME,TEXT): an error naming NAME unless TEXT (its value as given, so
# a `$` is seen too) is one word of SAFE_CHARACTERS.
require_quotable = $(if $(or $(filter-out 1,$(words $(2))),$(strip $(call unsafe_characters,$(2),$(SAFE_CHARACTERS)))),\
    $(error $(1)='$(2)': make cannot quote spaces or shell characters in paths and names; use one made of letters, \
    digits and - _ . / + @ % : , = ~ (e.g. a symbolic link to the folder)))
QUOTED_SETTINGS := DATA DATA_ROOT BIN DATASET SEED CUB_ROOT AWA2_ROOT LAD_ROOT CUB_WEIGHTS AWA2_WEIGHTS LAD_WEIGHTS
# A setting's text as given: unexpanded from the command line, where make would expand a `$`.
as_given = $(if $(filter command line,$(origin $(1))),$(value $(1)),$($(1)))
$(foreach name,$(QUOTED_SETTINGS),$(if $(call as_given,$(name)),$(call require_quotable,$(name),$(call as_given,$(name)))))
$(foreach name,EPSILONS SEEDS,$(foreach word,$(call as_given,$(name)),$(call require_quotable,$(name),$(word))))

# MARK: One make per data folder

# Two makes on one data folder would race on its settings stamps and could delete each
# other's fresh outputs (a failed recipe's target goes, .DELETE_ON_ERROR). So a make that may
# write holds DATA/.make.lock (flock) while it runs, through a small watcher process that
# exits with make; a second make waits up to 5 s (the watcher's release after a make ends)
# and then stops with this message. `make -n` and `make -q` write nothing and take no lock,
# nor do the developer targets, nor sub-makes (MAKELEVEL > 0: `make SEEDS=…` runs its seeds
# as sub-makes under the folder the top make holds).
DEVELOPER_GOALS := deps build test help clean
# Shell code for make's helper processes (the lock above, the Slurm watcher): close every
# file inherited from make except fd $(1) (so that whoever reads make's output or waits for
# it is not kept waiting by a helper), and $(call while_make_runs,PID,COMMAND): repeat
# COMMAND while process PID runs (a zombie, exited but not yet reaped, counts as gone).
close_inherited_files = for f in /proc/$${BASHPID}/fd/*; do n=$${f\#\#*/}; [[ $$n -gt 2 && $$n != $(1) ]] && eval "exec $$n>&-"; done; true
while_make_runs = while read -r _ _ state _ < /proc/$(1)/stat 2>/dev/null && [[ $$state != Z ]]; do $(2); done
ifeq ($(DRY_RUN)$(QUESTION)$(filter-out 0,$(MAKELEVEL)),)
ifneq ($(filter-out $(DEVELOPER_GOALS),$(or $(MAKECMDGOALS),all)),)
MAKE_LOCK := $(shell m=$$PPID; mkdir -p $(DATA) && exec 9>>$(DATA)/.make.lock && if flock -w 5 9; then \
    ($(call close_inherited_files,9); $(call while_make_runs,$$m,sleep 0.2)) >/dev/null 2>&1 </dev/null & echo held; \
    else echo busy; fi)
ifneq ($(MAKE_LOCK),held)
$(error $(DATA) is in use by another make (it holds $(DATA)/.make.lock): wait for it to finish, or give this run another DATA=)
endif
endif
endif

# train's extra prerequisite and options for dataset $(1): the imported model when it has weights.
imported_model = $(if $($(1).WEIGHTS),$(DATA)/$(1)/models/imported.h5)
init_options = $(if $($(1).WEIGHTS),--init $(DATA)/$(1)/models/imported.h5 --new-head)

# MARK: Stage binaries and the recipe prefix

# A stage binary is current once the build stamp is; its own mtime then decides what reruns.
# With SKIP_BUILD=1 the binaries in BIN are plain files (tests pass their debug products).
ifeq ($(SKIP_BUILD),)
$(addprefix $(BIN)/,$(STAGES)): $(BIN)/%: $(BIN)/.built ;
endif

## PRECISION=bf16: run the convolutions of train, adv-train, attack, extract-features, ground and
# train-detector in bf16 (docs/engine.md).
# `--precision bf16` joins their command lines, so their settings stamps change and exactly
# they and their dependents rerun; fp32 (the default) adds nothing.
$(call command_line_or,PRECISION,fp32)
ifneq ($(filter-out fp32 bf16,$(PRECISION)),)
$(error unknown PRECISION '$(PRECISION)': fp32 (the default) or bf16)
endif
PRECISION_STAGES := train adv-train attack extract-features ground train-detector
precision_option = $(if $(and $(filter bf16,$(PRECISION)),$(filter $(1),$(PRECISION_STAGES))), --precision bf16)

# Put in front of every stage command (the target-specific variable STAGE names the stage),
# so a cluster run can wrap each stage, e.g. in srun, without touching the rules below.
# Recursive, so that it may refer to $(STAGE); empty here (not read from the environment).
RUN =

# MARK: Settings stamps

# Each artifact depends on a small file, <DATA>/<ds>/.settings/<artifact path>, holding the
# exact command line of the stage that writes it (without the binary's folder, with DATA
# written as <DATA>). The stamp is rewritten only when that text changes, whether the
# change comes from a .mk file or the command line, so exactly the stages whose options
# changed rerun, with their dependents. A missing stamp of an existing artifact is written
# when make reads this file (also under `make -n`) with the artifact's time: artifacts made
# before stamps existed are kept as they are. Otherwise `make -n` writes no stamp.
.PHONY: settings-changed
settings-changed: ;

# $(call text_differs,A,B): non-empty when the texts A and B differ. (The stamp is read through
# $(strip): make 4.3 sometimes keeps the final newline that $(file <) should drop.)
text_differs = $(subst x$(1),,x$(2))$(subst x$(2),,x$(1))

# $(call write_stamp,STAMP,TEXT): the shell command that writes TEXT to STAMP atomically, through
# a temporary file of its own (the shell's pid), so no two writers share one.
write_stamp = mkdir -p $(dir $(1)) && printf '%s\n' '$(subst ','\'',$(2))' > $(1).tmp-$$$$$$$$ && mv $(1).tmp-$$$$$$$$ $(1)

# $(call settings_stamp,STAMP,TEXT,ARTIFACT)
define settings_stamp
$(if $(wildcard $(3)),$(if $(wildcard $(1)),,$(shell $(call write_stamp,$(1),$(2)) && touch -r $(3) $(1))))
$(1): $(if $(call text_differs,$(strip $(file < $(1))),$(2)),settings-changed)
	@$(call write_stamp,$(1),$(2))
endef

# MARK: Side outputs

# Some stages write files beside their artifact (quantify: metrics.json, summary.txt and
# tables; the report: its figures and panels). They are not targets of their own (one
# recipe writes them all), so a deleted one reruns the artifact's rule:
# $(call rerun_if_missing,ARTIFACT,FILES) makes ARTIFACT out of date when it exists but one of
# FILES does not (checked when make reads this file, like the stamps).
rerun_if_missing = $(if $(wildcard $(1)),$(if $(filter-out $(wildcard $(2)),$(2)),$(1): settings-changed))
# Files quantify writes beside metrics.h5 of dataset $(1).
quantify_side_outputs = $(addprefix $(DATA)/$(1)/,metrics.json summary.txt \
    $(foreach t,accuracy robust_ratio distances $(addprefix explanations-eps,$(EPSILONS)),tables/$(t).csv))
# The files a report page links (figures, their CSVs, panels), from the page itself.
report_files = $(if $(wildcard $(1)),$(addprefix $(dir $(1)),$(shell grep -oE '(src|href)="(figures|panels)/[^"]+"' $(1) \
    | sed -E 's/^[a-z]+="//; s/"$$//' | sort -u)))

# $(call stage_file,DS,STAGE,PATH): the line that lists $(DATA)/DS/PATH among the files STAGE
# writes for DS (DS.STAGE.FILES), which `make DS-STAGE` builds; part files are not listed,
# the merged artifact is (in its stage's list, not merge-shards').
stage_file = $(1).$(2).FILES += $(DATA)/$(1)/$(3)

# $(call stage_rule,DS,PATH,STAGE,INPUTS,ARGUMENTS[,AFTER]): the rule for $(DATA)/DS/PATH,
# written by `$(RUN) $(BIN)/STAGE ARGUMENTS`; AFTER is an optional second recipe line.
# Arguments name their files explicitly (not $@) so that the stamp records them.
define stage_rule
$(DATA)/$(1)/$(2): $(4) $(BIN)/$(3) $(DATA)/$(1)/.settings/$(2)
	$$(RUN) $(BIN)/$(3) $(5)$(call precision_option,$(3))$(if $(6),
	$(6))
$(DATA)/$(1)/$(2): STAGE := $(3)
$(if $(filter parts/%,$(2)),,$(call stage_file,$(1),$(3),$(2)))
$(call settings_stamp,$(DATA)/$(1)/.settings/$(2),$(strip $(3) $(subst $(DATA)/,<DATA>/,$(5))$(call precision_option,$(3))),$(DATA)/$(1)/$(2))
endef

# SHARDS (sharded_rule) and CLUSTER=slurm (RUN through srun, per-stage resources).
include pipelines/cluster.mk

# MARK: The pipeline's files

# Robust models: `<ds>.ROBUST_TRAINING := per-eps` (one model robust-eps<e> per eps, the
# default) or `largest` (one model robust-eps<max>, adversarially trained at the largest eps
# and evaluated at every eps, as the authors did). $(call robust_model,DS,EPS) names the
# robust model evaluated at EPS.
EPS_MAX = $(lastword $(sort $(EPSILONS)))
robust_largest = $(filter largest,$($(1).ROBUST_TRAINING))
robust_model = robust-eps$(if $(call robust_largest,$(1)),$(EPS_MAX),$(2))
robust_models = $(sort $(foreach e,$(EPSILONS),$(call robust_model,$(1),$(e))))
models_of = standard $(call robust_models,$(1))
SPLITS := train val test
# Adversarial-training settings for dataset $(1) at eps $(2): `<ds>.ADV_TRAIN.<e>` if the
# dataset sets one for that eps, else `<ds>.ADV_TRAIN.LARGEST` at the largest eps of the run,
# else `<ds>.ADV_TRAIN`.
adv_train_settings = $(or $($(1).ADV_TRAIN.$(2)),$(if $(filter $(2),$(EPS_MAX)),$($(1).ADV_TRAIN.LARGEST)),$($(1).ADV_TRAIN))
# The attribute files quantify reads for dataset $(1) (they pull in everything before them).
quantify_inputs = $(foreach m,$(call models_of,$(1)),$(DATA)/$(1)/attributes/$(m)-test.h5) \
    $(foreach e,$(EPSILONS),$(DATA)/$(1)/attributes/standard-adv-eps$(e).h5 \
        $(DATA)/$(1)/attributes/$(call robust_model,$(1),$(e))-adv-eps$(e).h5 \
        $(DATA)/$(1)/attributes/$(call robust_model,$(1),$(e))-transfer-eps$(e).h5)

# MARK: Grounding (the ground stage)

include pipelines/grounding.mk

# Attribute maps of the eq. 7/8 attributes, scored against part truth: per eps, the standard
# and the robust model on their own (white-box) adversarials, and the robust model on the
# standard model's (transfer). CUB reads the shipped group → parts table; rendered sets
# carry their own in images.h5; AwA2 and LAD get maps without scores.
ground_parts = $(if $(filter cub,$(1)),data/attributes/cub/attribute_parts.tsv)
grounding_files = $(foreach e,$(EPSILONS),$(DATA)/$(1)/grounding/standard-eps$(e).h5 \
    $(DATA)/$(1)/grounding/$(call robust_model,$(1),$(e))-eps$(e).h5 \
    $(DATA)/$(1)/grounding/$(call robust_model,$(1),$(e))-transfer-eps$(e).h5)

# $(call ground_rule,DS,FILE NAME,MODEL,ADVERSARIAL FILE NAME); with SHARDS=n, n parts and their merge.
define ground_rule
$(call sharded_rule,$(1),grounding/$(2).h5,ground,$(DATA)/$(1)/models/$(3).h5 $(DATA)/$(1)/sje/$(3).h5 $(DATA)/$(1)/images.h5 \
        $(DATA)/$(1)/adv/$(4).h5 $(call ground_parts,$(1)) $(call ground_detector,$(1)) $(call ground_apn,$(1),$(3)),\
    --model $(DATA)/$(1)/models/$(3).h5 --sje $(DATA)/$(1)/sje/$(3).h5 --images $(DATA)/$(1)/images.h5 \
    --adversarial $(DATA)/$(1)/adv/$(4).h5 $(if $(call ground_parts,$(1)),--attribute-parts $(call ground_parts,$(1))) \
    $(if $(call ground_maps,$(1)),$(call ground_maps,$(1)) )$(if $(call ground_apn,$(1),$(3)),--apn $(call ground_apn,$(1),$(3)) )$(if $(call ground_detector,$(1)),--detector $(call ground_detector,$(1)) )--seed $($(1).SEED))
endef

# $(1) dataset, $(2) eps, $(3) the robust model evaluated at $(2) (see robust_model).
define ground_eps_rules
$(call ground_rule,$(1),standard-eps$(2),standard,standard-eps$(2))
$(call ground_rule,$(1),$(3)-eps$(2),$(3),$(3)-eps$(2))
$(call ground_rule,$(1),$(3)-transfer-eps$(2),$(3),standard-eps$(2))
endef

# The grounding table (`quantify --grounding-only`), printed by `make` after the summary.
define ground_summary_rule
$(call stage_rule,$(1),grounding/summary.txt,quantify,$(call grounding_files,$(1)),\
    --dataset-dir $(DATA)/$(1) --eps $(EPSILONS)$(if $(call robust_largest,$(1)), --robust-eps $(EPS_MAX)) --grounding-only \
    > $(DATA)/$(1)/grounding/summary.txt.tmp,\
    mv $(DATA)/$(1)/grounding/summary.txt.tmp $(DATA)/$(1)/grounding/summary.txt)
$(call rerun_if_missing,$(DATA)/$(1)/grounding/summary.txt,$(DATA)/$(1)/tables/grounding.csv $(DATA)/$(1)/tables/grounding-intervals.csv)
endef

$(foreach ds,$(DATASETS),$(foreach e,$(EPSILONS),$(eval $(call ground_eps_rules,$(ds),$(e),$(call robust_model,$(ds),$(e))))))
$(foreach ds,$(DATASETS),$(eval $(call ground_summary_rule,$(ds))))

# MARK: Rules per dataset

# Fine-grained or coarse: which of the paper's claims quantify checks on a dataset (docs/claims.md).
DATASET_KINDS := synth-fine:fine cub:fine synth-coarse:coarse awa2:coarse lad:coarse
dataset_kind = $(patsubst $(1):%,%,$(filter $(1):%,$(DATASET_KINDS)))

define dataset_rules
$(call stage_rule,$(1),images.h5,prepare-data,,$($(1).PREPARE) --seed $($(1).SEED) --output $(DATA)/$(1)/images.h5)

$(call stage_rule,$(1),models/standard.h5,train,$(DATA)/$(1)/images.h5 $(call imported_model,$(1)),\
    --images $(DATA)/$(1)/images.h5 $(call init_options,$(1)) $($(1).TRAIN) --seed $($(1).SEED) --resume --output $(DATA)/$(1)/models/standard.h5)

$(call quantify_rule,$(1),$(1) ($(PROFILE) profile),$(call dataset_kind,$(1)))
endef

# $(call quantify_rule,DS,NAME,KIND): metrics.h5 and summary.txt of DS (a dataset, or one
# attack's chain of it: pipelines/attacks.mk).
define quantify_rule
$(call stage_rule,$(1),metrics.h5,quantify,$(call quantify_inputs,$(1)) $(DATA)/$(1)/sje/standard.h5 $(call grounding_files,$(1)),\
    --dataset-dir $(DATA)/$(1) --eps $(EPSILONS)$(if $(call robust_largest,$(1)), --robust-eps $(EPS_MAX)) \
    --name "$(2)" $(if $(3),--kind $(3)) --seed $($(1).SEED) \
    > $(DATA)/$(1)/summary.txt.tmp,\
    mv $(DATA)/$(1)/summary.txt.tmp $(DATA)/$(1)/summary.txt)
$(call rerun_if_missing,$(DATA)/$(1)/metrics.h5,$(call quantify_side_outputs,$(1)))
endef

# $(1) dataset, $(2) eps; $(3) the robust model evaluated at $(2) (trained here unless it
# is another eps's model: ROBUST_TRAINING=largest).
define eps_rules
$(if $(filter robust-eps$(2),$(3)),$(call stage_rule,$(1),models/robust-eps$(2).h5,adv-train,$(DATA)/$(1)/models/standard.h5 $(DATA)/$(1)/images.h5,\
    --images $(DATA)/$(1)/images.h5 --init $(DATA)/$(1)/models/standard.h5 --eps $(2) $(call adv_train_settings,$(1),$(2)) \
    --seed $($(1).SEED) --resume --output $(DATA)/$(1)/models/robust-eps$(2).h5))
$(call attack_chain_rules,$(1),$(2),$(3))
endef

# The attacks at eps $(2) on dataset $(1)'s standard and robust model $(3), and the features
# and attributes of their adversarials (white-box and transfer).
define attack_chain_rules
$(foreach m,standard $(3),
$(call sharded_rule,$(1),adv/$(m)-eps$(2).h5,attack,$(DATA)/$(1)/models/$(m).h5 $(DATA)/$(1)/images.h5,\
    --images $(DATA)/$(1)/images.h5 --model $(DATA)/$(1)/models/$(m).h5 --eps $(2) $($(1).ATTACK) \
    --seed $($(1).SEED) --resume))

$(call adversarial_features,$(1),standard-adv-eps$(2),standard,standard-eps$(2))
$(call adversarial_features,$(1),$(3)-adv-eps$(2),$(3),$(3)-eps$(2))
$(call adversarial_features,$(1),$(3)-transfer-eps$(2),$(3),standard-eps$(2))
endef

# $(call adversarial_features,DS,SET NAME,MODEL,ADVERSARIAL FILE NAME): features of MODEL on
# adv/<file>.h5, and their predicted attributes.
define adversarial_features
$(call sharded_rule,$(1),features/$(2).h5,extract-features,$(DATA)/$(1)/adv/$(4).h5 $(DATA)/$(1)/models/$(3).h5,\
    --model $(DATA)/$(1)/models/$(3).h5 --adversarial $(DATA)/$(1)/adv/$(4).h5)
$(call predicted_attributes,$(1),$(3),$(2))
endef

# $(call predicted_attributes,DS,MODEL,SET NAME)
define predicted_attributes
$(call sharded_rule,$(1),attributes/$(3).h5,predict-attributes,$(DATA)/$(1)/sje/$(2).h5 $(DATA)/$(1)/features/$(3).h5,\
    --sje $(DATA)/$(1)/sje/$(2).h5 --features $(DATA)/$(1)/features/$(3).h5)
endef

define model_rules
$(foreach s,$(SPLITS),
$(call sharded_rule,$(1),features/$(2)-$(s).h5,extract-features,$(DATA)/$(1)/models/$(2).h5 $(DATA)/$(1)/images.h5,\
    --model $(DATA)/$(1)/models/$(2).h5 --images $(DATA)/$(1)/images.h5 --split $(s))
$(call predicted_attributes,$(1),$(2),$(2)-$(s)))

$(call stage_rule,$(1),sje/$(2).h5,fit-sje,$(DATA)/$(1)/features/$(2)-train.h5 $(DATA)/$(1)/features/$(2)-val.h5 $(DATA)/$(1)/images.h5,\
    --features $(DATA)/$(1)/features/$(2)-train.h5 --val-features $(DATA)/$(1)/features/$(2)-val.h5 \
    --images $(DATA)/$(1)/images.h5 $($(1).SJE) --seed $($(1).SEED) --output $(DATA)/$(1)/sje/$(2).h5)
endef

# Fine-tuning: torchvision weights (safetensors) → models/imported.h5, checked against <ds>.ARCH.
define weights_rules
$(call stage_rule,$(1),models/imported.h5,import-weights,$($(1).WEIGHTS),\
    --safetensors $($(1).WEIGHTS) --arch $($(1).ARCH) --output $(DATA)/$(1)/models/imported.h5)
endef

$(foreach ds,$(DATASETS),$(eval $(call dataset_rules,$(ds))))
$(foreach ds,$(DATASETS),$(if $($(ds).WEIGHTS),$(eval $(call weights_rules,$(ds)))))
$(foreach ds,$(DATASETS),$(foreach e,$(EPSILONS),$(eval $(call eps_rules,$(ds),$(e),$(call robust_model,$(ds),$(e))))))
$(foreach ds,$(DATASETS),$(foreach m,$(call models_of,$(ds)),$(eval $(call model_rules,$(ds),$(m)))))

# MARK: Findings across datasets

# The paper's cross-dataset finding (1), fine-grained vs coarse, when both of a pair run:
# <DATA>/findings.json (and findings.txt, printed at the end of `make`).
FINDINGS_PAIRS := synth-fine:synth-coarse cub:awa2
findings_pair = $(firstword $(foreach p,$(FINDINGS_PAIRS),$(if $(and $(filter $(word 1,$(subst :, ,$(p))),$(DATASETS)),\
    $(filter $(word 2,$(subst :, ,$(p))),$(DATASETS))),$(p))))
FINDINGS_FINE = $(word 1,$(subst :, ,$(call findings_pair)))
FINDINGS_COARSE = $(word 2,$(subst :, ,$(call findings_pair)))
ifneq ($(call findings_pair),)
FINDINGS_COMMAND := quantify --compare $(DATA)/$(FINDINGS_FINE)/metrics.json $(DATA)/$(FINDINGS_COARSE)/metrics.json \
    --output $(DATA)/findings.json
$(DATA)/findings.json: $(DATA)/$(FINDINGS_FINE)/metrics.h5 $(DATA)/$(FINDINGS_COARSE)/metrics.h5 $(BIN)/quantify \
    $(DATA)/.settings/findings.json
	$(RUN) $(BIN)/$(FINDINGS_COMMAND) > $(DATA)/findings.txt.tmp
	mv $(DATA)/findings.txt.tmp $(DATA)/findings.txt
$(DATA)/findings.json: STAGE := quantify
$(eval $(call settings_stamp,$(DATA)/.settings/findings.json,$(subst $(DATA)/,<DATA>/,$(FINDINGS_COMMAND)),$(DATA)/findings.json))
$(eval $(call rerun_if_missing,$(DATA)/findings.json,$(DATA)/findings.txt))
# The overview report shows the findings: built after them, and again when they change.
$(DATA)/report/index.html: $(DATA)/findings.json
endif

# MARK: Report (issue 11)

# Per dataset: report/index.html from the metrics and every grounding file (report then
# requires them all: a missing one is an error naming the make target). Across datasets:
# report/index.html after every dataset's page, with CUB/AwA2/LAD added when their metrics
# exist in DATA, and the cross-dataset findings when DATA/findings.json exists.

define report_rules
$(call stage_rule,$(1),report/index.html,report,$(DATA)/$(1)/metrics.h5 $(call grounding_files,$(1)) $(call attack_report_inputs,$(1)),\
    dataset --dataset-dir $(DATA)/$(1) --seed $($(1).SEED) --require-grounding$(call attack_report_options,$(1)) > /dev/null)
$(call rerun_if_missing,$(DATA)/$(1)/report/index.html,$(call report_files,$(DATA)/$(1)/report/index.html))
endef
# Attacks beyond IFGSM (ATTACKS, MINIMAL): their chains, and what the dataset pages below show of them.
include pipelines/attacks.mk
$(foreach ds,$(DATASETS),$(eval $(call report_rules,$(ds))))

# The overview shows the cross-dataset findings (above) when a fine/coarse pair is in the run.
REPORT_FINDINGS := $(if $(call findings_pair),$(DATA)/findings.json)

REPORT_OPTIONAL := $(filter-out $(DATASETS),cub awa2 lad)
REPORT_OVERVIEW := overview --data $(DATA) --datasets $(DATASETS) --optional-datasets $(REPORT_OPTIONAL)
$(DATA)/report/index.html: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/report/index.html) $(REPORT_FINDINGS) \
    $(wildcard $(DATA)/findings.json $(foreach ds,$(REPORT_OPTIONAL),$(DATA)/$(ds)/metrics.h5)) \
    $(BIN)/report $(DATA)/.settings/report/index.html
	$(RUN) $(BIN)/report $(REPORT_OVERVIEW) > /dev/null
$(DATA)/report/index.html: STAGE := report
$(eval $(call settings_stamp,$(DATA)/.settings/report/index.html,report $(REPORT_OVERVIEW),$(DATA)/report/index.html))
$(eval $(call rerun_if_missing,$(DATA)/report/index.html,$(call report_files,$(DATA)/report/index.html)))

## report  : the HTML reports (per dataset and across DATASETS)
.PHONY: report
report: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/report/index.html) $(DATA)/report/index.html
	@echo "report: $(DATA)/report/index.html"

# MARK: Counterfactual explanations (explain)
include pipelines/explain.mk

# MARK: Targets

# What `all` builds: per dataset ($(1)) and across datasets. A later stage (ground,
# report) adds its rules in its own define block above, with stage_rule, and appends its
# final files here.
dataset_finals = $(DATA)/$(1)/metrics.h5
dataset_finals += $(DATA)/$(1)/grounding/summary.txt
dataset_finals += $(DATA)/$(1)/report/index.html
GLOBAL_FINALS := $(if $(call findings_pair),$(DATA)/findings.json) $(DATA)/report/index.html
FINAL_ARTIFACTS = $(foreach ds,$(DATASETS),$(call dataset_finals,$(ds))) $(ATTACK_FINALS) $(EXPLAIN_FINALS) $(GLOBAL_FINALS)

## all     : run the pipeline for DATASETS (default: both synthetic ones) and print the summaries
ifeq ($(strip $(SEEDS)),)
.PHONY: all
# Under `make -q`, `all` has no recipe (it only prints), so a complete run answers 0.
ifneq ($(QUESTION),)
all: $(FINAL_ARTIFACTS)
else
all: $(FINAL_ARTIFACTS)
	@for ds in $(DATASETS); do echo; cat $(DATA)/$$ds/summary.txt; \
	  if [ -f $(DATA)/$$ds/grounding/summary.txt ]; then echo; cat $(DATA)/$$ds/grounding/summary.txt; fi; done
	@$(if $(ATTACK_CHAINS),for c in $(ATTACK_CHAINS); do echo; cat $(DATA)/$$c/summary.txt; done)
	@$(if $(ATTACK_SUMMARY_DATASETS),for ds in $(ATTACK_SUMMARY_DATASETS); do echo; echo "$$ds: every attack"; cat $(DATA)/$$ds/attacks/summary.txt; done)
	@$(if $(call findings_pair),echo; cat $(DATA)/findings.txt)
	@echo; cat $(DATA)/explanations/summary.txt
	@echo; echo "metrics: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/metrics.json)$(if $(call findings_pair), $(DATA)/findings.json)"
	@echo "report: $(DATA)/report/index.html (per dataset: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/report/index.html))"
endif
endif

## data    : images.h5 for DATASETS
.PHONY: data
data: $(foreach ds,$(DATASETS),$(DATA)/$(ds)/images.h5)

## models  : the standard and robust models for DATASETS
.PHONY: models
models: $(foreach ds,$(DATASETS),$(foreach m,$(call models_of,$(ds)),$(DATA)/$(ds)/models/$(m).h5))

# MARK: Targets per dataset and per stage

## <ds>    : one dataset's whole chain, e.g. `make synth-fine`, `make cub CUB_ROOT=… CUB_WEIGHTS=…`
## <ds>-<stage> : one stage's artifacts for one dataset (and what they need), e.g.
##           `make synth-coarse-attack`, `make synth-fine-ground`, `make synth-fine-report`;
##           stages: prepare-data train adv-train attack extract-features fit-sje
##           predict-attributes ground quantify report explain
# Naming a dataset in a goal runs that dataset alone: DATASETS becomes the datasets named
# (see KNOWN_DATASETS above), so `make synth-fine` neither builds nor plans synth-coarse.
define dataset_targets
.PHONY: $(1) $(addprefix $(1)-,$(DATASET_STAGES))
$(1): $(call dataset_finals,$(1))
	@echo; cat $(DATA)/$(1)/summary.txt; echo; cat $(DATA)/$(1)/grounding/summary.txt
	@echo; echo "metrics: $(DATA)/$(1)/metrics.json"; echo "report: $(DATA)/$(1)/report/index.html"
$(foreach s,$(DATASET_STAGES),
$(1)-$(s): $($(1).$(s).FILES))
endef
$(foreach ds,$(DATASETS),$(eval $(call dataset_targets,$(ds))))

# MARK: Several seeds
include pipelines/seeds.mk
