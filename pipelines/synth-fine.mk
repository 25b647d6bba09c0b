# synth-fine: rendered birds whose classes follow real CUB class-attribute profiles, so
# classes share many attributes (a fine-grained dataset, like CUB).
synth-fine.SEED := 1
ifeq ($(PROFILE),full)
synth-fine.SIZE := 64
synth-fine.IMAGES_PER_CLASS := 200
else
synth-fine.SIZE := 32
synth-fine.IMAGES_PER_CLASS := 60
endif
