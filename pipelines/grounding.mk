# Grounding settings of the rendered sets: the map method, and the paper's grounding route
# (docs/ground.md § Detector): a part and attribute detector trained on a dataset's part truth (`train-detector` → <DATA>/<ds>/models/detector.h5), which
# `ground --detector` uses to mark an attribute grounded when it finds the attribute's value on
# its part. Rendered sets only: they carry part masks and per-image attributes; CUB's keypoints
# are points, not masks, and AwA2 and LAD have no parts, so they get no detector.
#
# `<ds>.DETECTOR`: train-detector's settings, per profile; a dataset without it has no detector route.
DETECTOR.default := --epochs 6
DETECTOR.smoke := --widths 4 4 --epochs 1
DETECTOR.full := --epochs 12
$(foreach ds,$(filter $(SYNTH_DATASETS),$(DATASETS)),$(if $(call defined_value,$(ds).DETECTOR),,$(eval $(ds).DETECTOR := $(DETECTOR.$(PROFILE)))))

# $(call ground_detector,DS): the detector file ground reads for DS (nothing without a detector).
ground_detector = $(if $(call defined_value,$(1).DETECTOR),$(DATA)/$(1)/models/detector.h5)

define detector_rule
$(call stage_rule,$(1),models/detector.h5,train-detector,$(DATA)/$(1)/images.h5,\
    --images $(DATA)/$(1)/images.h5 $($(1).DETECTOR) --seed $($(1).SEED) --output $(DATA)/$(1)/models/detector.h5)
endef
$(foreach ds,$(DATASETS),$(if $(call ground_detector,$(ds)),$(eval $(call detector_rule,$(ds)))))

# `<ds>.GROUND_MAPS`: ground's map method. Rendered sets: a Net2Vec concept probe per model
# (`--method probe`, below), the only maps measured to point at the attribute's part well above the
# location baselines (2.2× and 3.3× the best on synth-fine and synth-coarse, docs/ground.md § Concept
# probe); it is supervised with the training split's part truth. Elsewhere (no part masks) CAM.
GROUND_MAPS.synth := --method probe
$(foreach ds,$(filter $(SYNTH_DATASETS),$(DATASETS)),$(if $(call defined_value,$(ds).GROUND_MAPS),,$(eval $(ds).GROUND_MAPS := $(GROUND_MAPS.synth))))
ground_maps = $(call defined_value,$(1).GROUND_MAPS)

# `--method apn` grounds with an attribute-prototype head per model, `--method probe` with a concept
# probe per model (docs/ground.md § APN, § Concept probe): `fit-apn` → <DATA>/<ds>/apn/<model>.h5 with
# `<ds>.APN`'s settings, or <DATA>/<ds>/probe/<model>.h5 with `<ds>.PROBE`'s (per profile below), and
# `ground --apn` reads the head of its model. APN is not the default: measured short of the issue's
# target (0.81× and 0.96× the box centre on synth-fine and synth-coarse). The probe's settings are the
# best on synth-fine's validation images.
APN.default := --layer 2 --compactness 2
APN.smoke := --layer 2 --compactness 2 --epochs 2
APN.full := --layer 2 --compactness 2
PROBE.default := --objective segmentation --layer 2 --context-layers 1 3 --positive-weight 3 --learning-rate 0.03
PROBE.smoke := $(PROBE.default) --epochs 2
PROBE.full := $(PROBE.default)
$(foreach ds,$(DATASETS),$(if $(call defined_value,$(ds).APN),,$(eval $(ds).APN := $(APN.$(PROFILE)))))
$(foreach ds,$(DATASETS),$(if $(call defined_value,$(ds).PROBE),,$(eval $(ds).PROBE := $(PROBE.$(PROFILE)))))

# $(call ground_head,DS): apn or probe, the folder of the heads DS's maps read (nothing for other methods).
ground_head = $(if $(findstring --method apn,$(call ground_maps,$(1))),apn,$(if $(findstring --method probe,$(call ground_maps,$(1))),probe))
# $(call ground_apn,DS,MODEL): the head ground reads for MODEL's maps (nothing unless DS grounds with apn or probe).
ground_apn = $(if $(call ground_head,$(1)),$(DATA)/$(1)/$(call ground_head,$(1))/$(2).h5)

# $(1) the dataset, $(2) the model, $(3) apn or probe.
define apn_rule
$(call stage_rule,$(1),$(3)/$(2).h5,fit-apn,$(DATA)/$(1)/models/$(2).h5 $(DATA)/$(1)/images.h5,\
    --model $(DATA)/$(1)/models/$(2).h5 --images $(DATA)/$(1)/images.h5 $($(1).$(if $(filter probe,$(3)),PROBE,APN)) --seed $($(1).SEED) --output $(DATA)/$(1)/$(3)/$(2).h5)
endef
$(foreach ds,$(DATASETS),$(if $(call ground_head,$(ds)),$(foreach m,$(call models_of,$(ds)),$(eval $(call apn_rule,$(ds),$(m),$(call ground_head,$(ds)))))))
