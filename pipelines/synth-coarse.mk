# synth-coarse: about ten rendered bird classes whose profiles differ in most attribute
# groups (a coarse dataset, like AwA2).
synth-coarse.SEED := 2
ifeq ($(PROFILE),full)
synth-coarse.SIZE := 64
synth-coarse.IMAGES_PER_CLASS := 1000
else
synth-coarse.SIZE := 32
synth-coarse.IMAGES_PER_CLASS := 300
endif
