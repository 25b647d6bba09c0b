# cub: CUB-200-2011 (200 bird classes, 312 attributes): the official tree, e.g. CUB_200_2011/
# Run with: make DATASET=cub CUB_ROOT=/path/to/tree CUB_WEIGHTS=/path/to/resnet152.safetensors
# The paper's recipe: an ImageNet-pretrained torchvision ResNet (CUB_ARCH, default resnet152)
# fine-tuned at 224 px with a new cub head: SGD lr 1e-3, momentum 0.9, no weight decay,
# ×0.1 every 20 epochs, batch 16, random resized crop + flip; ImageNet mean/std inside the
# model. CUB_WEIGHTS is torchvision's state dict as safetensors (README: "Fine-tuning
# ImageNet weights"); import-weights turns it into models/imported.h5 first, and refuses a
# file of another architecture. CUB_FREEZE=layer3 (stem, layer1 … layer4) keeps the early
# layers fixed for CPU budgets.
CUB_ROOT ?=
ifeq ($(strip $(CUB_ROOT)),)
$(error CUB_ROOT is not set: make DATASET=cub CUB_ROOT=/path/to/the/cub/tree CUB_WEIGHTS=/path/to/weights.safetensors)
endif
CUB_ARCH ?= resnet152
CUB_WEIGHTS ?=
ifeq ($(strip $(CUB_WEIGHTS)),)
$(error CUB_WEIGHTS is not set: the cub pipeline fine-tunes ImageNet weights; give torchvision's $(CUB_ARCH) state dict as safetensors: make DATASET=cub CUB_ROOT=… CUB_WEIGHTS=$(CUB_ARCH).safetensors (README: "Fine-tuning ImageNet weights"))
endif
ifeq ($(wildcard $(CUB_WEIGHTS)),)
$(error CUB_WEIGHTS=$(CUB_WEIGHTS): no such file)
endif
CUB_FREEZE ?=
cub.SEED := 1
cub.WEIGHTS := $(CUB_WEIGHTS)
cub.ARCH := $(CUB_ARCH)
# Images are stored as the authors' evaluation transform, torchvision's Resize(256) +
# CenterCrop(224) (--centre-crop), for every split: one images.h5 holds one geometry, and the
# SJE is fitted on train features that must look like the test ones; the random resized crop
# of fine-tuning then draws from the stored 224 px window (README: "Fine-tuning ImageNet weights").
cub.PREPARE := --dataset cub --root $(CUB_ROOT) --size 224 --centre-crop
cub.FINE_TUNE := --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --schedule step --step-size 20 --gamma 0.1 \
    --resized-crop --batch-size 16 $(if $(strip $(CUB_FREEZE)),--freeze-until $(CUB_FREEZE))
ifeq ($(PROFILE),smoke)
# 64 px (the whole image squashed) and one epoch each: a check that the import, the
# fine-tuning and every stage run.
cub.PREPARE := --dataset cub --root $(CUB_ROOT) --size 64
cub.TRAIN := $(cub.FINE_TUNE) --epochs 1
cub.ADV_TRAIN := --epochs 1 --batch-size 16 --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --pgd-steps 2
else
cub.TRAIN := $(cub.FINE_TUNE) --epochs 100
# The authors' adversarial fine-tuning: 30 epochs, the first 10 clean, then (clean + adv)/2.
cub.ADV_TRAIN := --epochs 30 --warmup-epochs 10 --lambda 0.5 --batch-size 16 --learning-rate 0.001 --momentum 0.9 \
    --weight-decay 0 --schedule constant --pgd-steps 7
endif
cub.ATTACK := --method ifgsm --split test
cub.SJE := --epochs 100 --learning-rate 0.01 --feature-normalisation none
