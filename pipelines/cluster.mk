# Shards and Slurm: included by pipelines/common.mk, before the rules.
#
# SHARDS=n splits every per-image stage (attack, extract-features, predict-attributes,
# ground) into n parts: part i runs `<stage> ... --shard i/n --output <DATA>/<ds>/parts/<path>.part<i>of<n>.h5`
# and `merge-shards` joins the parts into the artifact, whose datasets are byte-identical
# to an unsharded run's. SHARDS=1 (the default) runs them whole, as before.
#
# CLUSTER=slurm runs every stage command through `srun` (each one a Slurm job step of its
# own allocation, or a step of the enclosing allocation when make runs inside one), with
# per-stage resources from the variables below; `make -j N` keeps N jobs in flight. The
# commands are otherwise the same as a local run's (same settings stamps), so a cluster
# run is reproducible locally. A failed or cancelled job fails its target and, as stages
# write atomically, leaves no artifact; rerunning make resubmits only what is missing.

# MARK: Shards

## SHARDS=n: run attack, extract-features, predict-attributes and ground as n parts each, joined by merge-shards
# Only the command line (or a makefile) sets SHARDS and CLUSTER: a CLUSTER variable in the
# environment (some sites set one to the cluster's name) must not change how stages run.
$(call command_line_or,SHARDS,1)
ifneq ($(shell [[ '$(SHARDS)' =~ ^[1-9][0-9]*$$ ]] && echo ok),ok)
$(error SHARDS must be a whole number of parts (at least 1), got '$(SHARDS)')
endif
SHARD_INDICES := $(shell seq 0 $$(( $(SHARDS) - 1 )))

# $(call part_path,PATH,I): where part I of the artifact PATH (relative to the dataset folder) goes.
part_path = parts/$(basename $(1)).part$(2)of$(SHARDS).h5
# $(call part_files,DS,PATH): every part file of $(DATA)/DS/PATH, in part order.
part_files = $(foreach i,$(SHARD_INDICES),$(DATA)/$(1)/$(call part_path,$(2),$(i)))

# $(call sharded_rule,DS,PATH,STAGE,INPUTS,ARGUMENTS): stage_rule for a stage that takes
# --shard, ARGUMENTS without --output. With SHARDS=1 one command writes $(DATA)/DS/PATH;
# otherwise one rule per part and a merge-shards rule for $(DATA)/DS/PATH.
define sharded_rule
$(if $(filter 1,$(SHARDS)),$(call stage_rule,$(1),$(2),$(3),$(4),$(5) --output $(DATA)/$(1)/$(2)),
$(foreach i,$(SHARD_INDICES),
$(call stage_rule,$(1),$(call part_path,$(2),$(i)),$(3),$(4),$(5) --shard $(i)/$(SHARDS) --output $(DATA)/$(1)/$(call part_path,$(2),$(i))))
$(call stage_rule,$(1),$(2),merge-shards,$(call part_files,$(1),$(2)),--parts $(call part_files,$(1),$(2)) --output $(DATA)/$(1)/$(2))
$(call stage_file,$(1),$(3),$(2)))
endef

# MARK: Slurm

## CLUSTER=slurm: run every stage through srun with the per-stage resources <stage>.CPUS/MEM/TIME/NODES/NTASKS
$(call command_line_or,CLUSTER,)
ifneq ($(filter-out slurm,$(CLUSTER)),)
$(error unknown CLUSTER '$(CLUSTER)': leave it unset to run locally, or CLUSTER=slurm)
endif
# The srun to call, and flags for every job (e.g. SRUN_FLAGS="--partition=cpu --account=proj").
SRUN ?= srun
SRUN_FLAGS ?=

# Resources per job step. Lookup for stage S of dataset D and setting X (CPUS, MEM, TIME,
# NODES, NTASKS): the command line's D.S.X, S.X or SLURM.X, in that order, else the
# makefiles' D.S.X (pipelines/<ds>.mk), S.X (below) or SLURM.X. So `make SLURM.TIME=8:00:00`
# applies to every stage, `make attack.CPUS=16` to one stage, and `cub.attack.MEM := 32G`
# in pipelines/cub.mk to one stage of one dataset. S.SRUN_FLAGS adds flags for one stage
# (e.g. `train.SRUN_FLAGS := --gres=gpu:1`). NODES/NTASKS > 1 start that many copies of the
# stage (MPI ranks: srun provides the PMI environment); every other stage is one task.
SLURM.CPUS := 2
SLURM.MEM := 4G
SLURM.TIME := 2:00:00
SLURM.NODES := 1
SLURM.NTASKS := 1
prepare-data.CPUS := 4
prepare-data.MEM := 8G
train.CPUS := 8
train.MEM := 16G
train.TIME := 24:00:00
adv-train.CPUS := 8
adv-train.MEM := 16G
adv-train.TIME := 24:00:00
attack.CPUS := 8
attack.MEM := 8G
attack.TIME := 12:00:00
extract-features.CPUS := 8
extract-features.MEM := 8G
extract-features.TIME := 4:00:00
# ground: a forward pass and one map per selected attribute per image, like extract-features.
ground.CPUS := 8
ground.MEM := 8G
ground.TIME := 4:00:00
fit-sje.MEM := 8G
predict-attributes.CPUS := 1
quantify.CPUS := 1
merge-shards.CPUS := 1

# $(call defined_value,NAME): the variable's value, nothing (and no warning) if undefined.
defined_value = $(if $(filter undefined,$(origin $(1))),,$($(1)))
# $(call slurm_setting,DS,STAGE,X): the lookup described above.
slurm_names = $(1).$(2).$(3) $(2).$(3) SLURM.$(3)
slurm_setting = $(firstword $(foreach v,$(call slurm_names,$(1),$(2),$(3)),$(if $(filter command line,$(origin $(v))),$($(v)))) \
    $(foreach v,$(call slurm_names,$(1),$(2),$(3)),$(call defined_value,$(v))))
# The dataset a recipe's target belongs to: the first folder under $(DATA).
target_dataset = $(firstword $(subst /, ,$(patsubst $(DATA)/%,%,$@)))
# The srun prefix for the current recipe (STAGE is the rule's target-specific variable).
# --quit-on-interrupt: one Ctrl-C of make cancels the step (srun otherwise wants two).
slurm_run = $(SRUN) --job-name=attrib-adv-$(STAGE) --quit-on-interrupt --kill-on-bad-exit=1 \
    --nodes=$(call slurm_setting,$(target_dataset),$(STAGE),NODES) \
    --ntasks=$(call slurm_setting,$(target_dataset),$(STAGE),NTASKS) \
    --cpus-per-task=$(call slurm_setting,$(target_dataset),$(STAGE),CPUS) \
    --mem=$(call slurm_setting,$(target_dataset),$(STAGE),MEM) \
    --time=$(call slurm_setting,$(target_dataset),$(STAGE),TIME) \
    $(SRUN_FLAGS) $(call defined_value,$(STAGE).SRUN_FLAGS)

ifeq ($(CLUSTER),slurm)
ifeq ($(shell command -v $(firstword $(SRUN)) 2>/dev/null),)
$(error CLUSTER=slurm runs every stage through srun, but '$(firstword $(SRUN))' is not on the PATH: run make where Slurm's client commands are installed (a login node or inside an allocation), or set SRUN=/path/to/srun)
endif
RUN = $(slurm_run)

# Requests no node can meet. Slurm leaves a job whose CPUs exceed every node of the partition
# pending for ever ("Requested partition configuration not available now"), so make would never
# return: each stage's request is checked here against the partition's largest node (sinfo),
# naming the setting to lower. Per node a job needs CPUS × ⌈NTASKS / NODES⌉ CPUs and MEM.
SLURM_PARTITION := $(patsubst --partition=%,%,$(filter --partition=%,$(SRUN_FLAGS)))
# "<nodes> <most CPUs on one node> <most memory on one node, MB>"
SLURM_LARGEST := $(shell sinfo -h -N $(if $(SLURM_PARTITION),-p $(SLURM_PARTITION)) -o '%c %m' 2>/dev/null \
    | awk '{ gsub(/[^0-9 ]/, ""); n++; if ($$1 > c) c = $$1; if ($$2 > m) m = $$2 } END { if (n) print n, c, m }')
ifeq ($(words $(SLURM_LARGEST)),3)
# "<dataset>:<stage>:<CPUS>:<NTASKS>:<NODES>:<MEM>" for every stage of every dataset.
slurm_request = $(1):$(2):$(call slurm_setting,$(1),$(2),CPUS):$(call slurm_setting,$(1),$(2),NTASKS):$(call \
    slurm_setting,$(1),$(2),NODES):$(call slurm_setting,$(1),$(2),MEM)
slurm_requests = $(foreach ds,$(DATASETS),$(foreach s,$(STAGES),$(call slurm_request,$(ds),$(s))))
SLURM_TOO_LARGE := $(shell awk -v largest='$(SLURM_LARGEST)' -v requests='$(slurm_requests)' 'BEGIN { \
    split(largest, l, " "); n = split(requests, r, " "); \
    for (i = 1; i <= n; i++) { split(r[i], f, ":"); per = f[3] * int((f[4] + f[5] - 1) / f[5]); \
      mem = f[6] + 0; unit = toupper(substr(f[6], length(f[6]))); \
      if (unit == "K") mem /= 1024; else if (unit == "G") mem *= 1024; else if (unit == "T") mem *= 1048576; \
      if (f[5] > l[1]) { print f[2] ".NODES is " f[5] " for " f[1] ", but the partition has " l[1] " nodes"; exit } \
      if (per > l[2]) { print f[2] ".CPUS asks " per " CPUs on one node for " f[1] ", but the largest node has " l[2]; exit } \
      if (mem > l[3]) { print f[2] ".MEM is " f[6] " for " f[1] ", but the largest node has " l[3] "M"; exit } } }')
ifneq ($(SLURM_TOO_LARGE),)
$(error CLUSTER=slurm: no node can run this request and Slurm would leave it pending for ever: $(SLURM_TOO_LARGE). Lower that setting, e.g. make $(firstword $(SLURM_TOO_LARGE))=… on the command line, or SLURM.$(lastword $(subst ., ,$(firstword $(SLURM_TOO_LARGE))))=… for every stage)
endif
else
$(error CLUSTER=slurm: sinfo lists no node$(if $(SLURM_PARTITION), in partition $(SLURM_PARTITION)) (is Slurm reachable from here? SLURM_CONF?))
endif

# A job can still wait for a reason that cannot change (an SRUN_FLAGS request, a partition's
# limits): while make runs, a watcher cancels its pending attrib-adv jobs whose reason is one
# of these, with a message, so that srun fails and with it the target.
SLURM_HOPELESS := PartitionConfig PartitionNodeLimit PartitionTimeLimit BadConstraints
ifeq ($(DRY_RUN)$(QUESTION),)
SLURM_WATCHER := $(shell m=$$PPID; ($(call close_inherited_files,2); $(call while_make_runs,$$m,\
    squeue -h -u "$$(id -un)" -t PENDING -o '%i %j %r' 2>/dev/null | while read -r id name reason; do \
      if [[ " $(SLURM_HOPELESS) " == *" $$reason "* && $$name == attrib-adv-* ]] && scancel "$$id"; then \
        echo "make: cancelled Slurm job $$id $$name: pending for $$reason which cannot change: lower its resources" >&2; fi; \
    done; sleep 2)) >/dev/null </dev/null & echo started)
endif
endif
