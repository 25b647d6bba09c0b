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

# `<ds>.GROUND_MAPS`: ground's map method. Rendered sets: Grad-CAM at stage 2 (16 × 16 at 32 px),
# the best clean pointing for its cost of the levers measured (docs/ground.md § Maps); elsewhere CAM.
GROUND_MAPS.synth := --method gradcam --layer 2
$(foreach ds,$(filter $(SYNTH_DATASETS),$(DATASETS)),$(if $(call defined_value,$(ds).GROUND_MAPS),,$(eval $(ds).GROUND_MAPS := $(GROUND_MAPS.synth))))
ground_maps = $(call defined_value,$(1).GROUND_MAPS)

# `<ds>.GROUND_MAPS := --method apn` grounds with an attribute-prototype head per model (docs/ground.md
# § APN): `fit-apn` → <DATA>/<ds>/apn/<model>.h5 with `<ds>.APN`'s settings (per profile below), and
# `ground --apn` reads the head of its model. Not the default: measured short of the issue's target
# (0.81× and 0.96× the box centre on synth-fine and synth-coarse).
APN.default := --layer 2 --compactness 2
APN.smoke := --layer 2 --compactness 2 --epochs 2
APN.full := --layer 2 --compactness 2
$(foreach ds,$(DATASETS),$(if $(call defined_value,$(ds).APN),,$(eval $(ds).APN := $(APN.$(PROFILE)))))

# $(call ground_apn,DS,MODEL): the head ground reads for MODEL's maps (nothing unless DS grounds with apn).
ground_apn = $(if $(findstring --method apn,$(call ground_maps,$(1))),$(DATA)/$(1)/apn/$(2).h5)

define apn_rule
$(call stage_rule,$(1),apn/$(2).h5,fit-apn,$(DATA)/$(1)/models/$(2).h5 $(DATA)/$(1)/images.h5,\
    --model $(DATA)/$(1)/models/$(2).h5 --images $(DATA)/$(1)/images.h5 $($(1).APN) --seed $($(1).SEED) --output $(DATA)/$(1)/apn/$(2).h5)
endef
$(foreach ds,$(DATASETS),$(if $(call ground_apn,$(ds),standard),$(foreach m,$(call models_of,$(ds)),$(eval $(call apn_rule,$(ds),$(m))))))
