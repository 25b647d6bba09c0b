# lad: LAD (230 classes, 359 attributes): the official annotation files and images
# Run with: make DATASET=lad LAD_ROOT=/path/to/tree LAD_WEIGHTS=/path/to/resnet152.safetensors
# The paper's recipe: an ImageNet-pretrained torchvision ResNet (LAD_ARCH, default resnet152)
# fine-tuned at 224 px with a new lad head: SGD lr 1e-3, momentum 0.9, no weight decay,
# ×0.1 every 20 epochs, batch 16, random resized crop + flip; ImageNet mean/std inside the
# model. LAD_WEIGHTS is torchvision's state dict as safetensors (README: "Fine-tuning
# ImageNet weights"); import-weights turns it into models/imported.h5 first, and refuses a
# file of another architecture. LAD_FREEZE=layer3 (stem, layer1 … layer4) keeps the early
# layers fixed for CPU budgets.
LAD_ROOT ?=
ifeq ($(strip $(LAD_ROOT)),)
$(error LAD_ROOT is not set: make DATASET=lad LAD_ROOT=/path/to/the/lad/tree LAD_WEIGHTS=/path/to/weights.safetensors)
endif
LAD_ARCH ?= resnet152
LAD_WEIGHTS ?=
ifeq ($(strip $(LAD_WEIGHTS)),)
$(error LAD_WEIGHTS is not set: the lad pipeline fine-tunes ImageNet weights; give torchvision's $(LAD_ARCH) state dict as safetensors: make DATASET=lad LAD_ROOT=… LAD_WEIGHTS=$(LAD_ARCH).safetensors (README: "Fine-tuning ImageNet weights"))
endif
ifeq ($(wildcard $(LAD_WEIGHTS)),)
$(error LAD_WEIGHTS=$(LAD_WEIGHTS): no such file)
endif
LAD_FREEZE ?=
lad.SEED := 1
lad.WEIGHTS := $(LAD_WEIGHTS)
lad.ARCH := $(LAD_ARCH)
# Images are stored as the authors' evaluation transform, torchvision's Resize(256) +
# CenterCrop(224) (--centre-crop), for every split: one images.h5 holds one geometry, and the
# SJE is fitted on train features that must look like the test ones; the random resized crop
# of fine-tuning then draws from the stored 224 px window (README: "Fine-tuning ImageNet weights").
lad.PREPARE := --dataset lad --root $(LAD_ROOT) --size 224 --centre-crop
lad.FINE_TUNE := --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --schedule step --step-size 20 --gamma 0.1 \
    --resized-crop --batch-size 16 $(if $(strip $(LAD_FREEZE)),--freeze-until $(LAD_FREEZE))
ifeq ($(PROFILE),smoke)
# 64 px (the whole image squashed) and one epoch each: a check that the import, the
# fine-tuning and every stage run.
lad.PREPARE := --dataset lad --root $(LAD_ROOT) --size 64
lad.TRAIN := $(lad.FINE_TUNE) --epochs 1
lad.ADV_TRAIN := --epochs 1 --batch-size 16 --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --pgd-steps 2
else
lad.TRAIN := $(lad.FINE_TUNE) --epochs 100
# The authors' adversarial fine-tuning: 30 epochs, the first 10 clean, then (clean + adv)/2.
lad.ADV_TRAIN := --epochs 30 --warmup-epochs 10 --lambda 0.5 --batch-size 16 --learning-rate 0.001 --momentum 0.9 \
    --weight-decay 0 --schedule constant --pgd-steps 7
endif
lad.ATTACK := --method ifgsm --split test
lad.SJE := --epochs 100 --learning-rate 0.01 --feature-normalisation none
