# The settings every real dataset (cub, awa2, lad) shares: the paper's recipe, an
# ImageNet-pretrained torchvision ResNet (<DS>_ARCH, default resnet152) fine-tuned at 224 px
# with a new head for the dataset's classes: SGD lr 1e-3, momentum 0.9, no weight decay, ×0.1
# every 20 epochs, batch 16, random resized crop + flip; ImageNet mean/std inside the model.
# <DS>_WEIGHTS is torchvision's state dict as safetensors (docs/operations.md § Fine-tuning ImageNet
# weights); import-weights turns it into models/imported.h5 first, and refuses a file of
# another architecture. <DS>_FREEZE=layer3 (stem, layer1 … layer4) keeps the early layers
# fixed for CPU budgets. pipelines/<ds>.mk calls it as $(eval $(call real_dataset,ds,DS)).
#
# Images are stored as the authors' evaluation transform, torchvision's Resize(256) +
# CenterCrop(224) (--centre-crop), for every split: one images.h5 holds one geometry, and the
# SJE is fitted on train features that must look like the test ones; the random resized crop
# of fine-tuning then draws from the stored 224 px window (docs/operations.md § Fine-tuning ImageNet weights).
define real_dataset
$(2)_ROOT ?=
ifeq ($$(strip $$($(2)_ROOT)),)
$$(error $(2)_ROOT is not set: make DATASET=$(1) $(2)_ROOT=/path/to/the/$(1)/tree $(2)_WEIGHTS=/path/to/weights.safetensors)
endif
$(2)_ARCH ?= resnet152
$(2)_WEIGHTS ?=
ifeq ($$(strip $$($(2)_WEIGHTS)),)
$$(error $(2)_WEIGHTS is not set: the $(1) pipeline fine-tunes ImageNet weights; give torchvision's $$($(2)_ARCH) state dict as safetensors: make DATASET=$(1) $(2)_ROOT=… $(2)_WEIGHTS=$$($(2)_ARCH).safetensors (docs/operations.md § Fine-tuning ImageNet weights))
endif
ifeq ($$(wildcard $$($(2)_WEIGHTS)),)
$$(error $(2)_WEIGHTS=$$($(2)_WEIGHTS): no such file)
endif
$(2)_FREEZE ?=
$(1).SEED := 1
$(1).WEIGHTS := $$($(2)_WEIGHTS)
$(1).ARCH := $$($(2)_ARCH)
$(1).PREPARE := --dataset $(1) --root $$($(2)_ROOT) --size 224 --centre-crop
$(1).FINE_TUNE := --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --schedule step --step-size 20 --gamma 0.1 \
    --resized-crop --batch-size 16 $$(if $$(strip $$($(2)_FREEZE)),--freeze-until $$($(2)_FREEZE))
ifeq ($$(PROFILE),smoke)
# 64 px (the whole image squashed) and one epoch each: a check that the import, the
# fine-tuning and every stage run.
$(1).PREPARE := --dataset $(1) --root $$($(2)_ROOT) --size 64
$(1).TRAIN := $$($(1).FINE_TUNE) --epochs 1
$(1).ADV_TRAIN := --epochs 1 --batch-size 16 --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --pgd-steps 2
else
$(1).TRAIN := $$($(1).FINE_TUNE) --epochs 100
# The authors' adversarial fine-tuning: 30 epochs, the first 10 clean, then (clean + adv)/2.
$(1).ADV_TRAIN := --epochs 30 --warmup-epochs 10 --lambda 0.5 --batch-size 16 --learning-rate 0.001 --momentum 0.9 \
    --weight-decay 0 --schedule constant --pgd-steps 7
endif
$(1).ATTACK := --method ifgsm --split test
$(1).SJE := --epochs 100 --learning-rate 0.01 --feature-normalisation none
endef
