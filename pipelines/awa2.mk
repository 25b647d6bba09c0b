# awa2: AwA2 (50 animal classes, 85 attributes): the official tree with JPEGImages/
# Run with: make DATASET=awa2 AWA2_ROOT=/path/to/tree AWA2_WEIGHTS=/path/to/resnet152.safetensors
# The paper's recipe: an ImageNet-pretrained torchvision ResNet (AWA2_ARCH, default resnet152)
# fine-tuned at 224 px with a new awa2 head: SGD lr 1e-3, momentum 0.9, no weight decay,
# ×0.1 every 20 epochs, batch 16, random resized crop + flip; ImageNet mean/std inside the
# model. AWA2_WEIGHTS is torchvision's state dict as safetensors (README: "Fine-tuning
# ImageNet weights"); import-weights turns it into models/imported.h5 first, and refuses a
# file of another architecture. AWA2_FREEZE=layer3 (stem, layer1 … layer4) keeps the early
# layers fixed for CPU budgets.
AWA2_ROOT ?=
ifeq ($(strip $(AWA2_ROOT)),)
$(error AWA2_ROOT is not set: make DATASET=awa2 AWA2_ROOT=/path/to/the/awa2/tree AWA2_WEIGHTS=/path/to/weights.safetensors)
endif
AWA2_ARCH ?= resnet152
AWA2_WEIGHTS ?=
ifeq ($(strip $(AWA2_WEIGHTS)),)
$(error AWA2_WEIGHTS is not set: the awa2 pipeline fine-tunes ImageNet weights; give torchvision's $(AWA2_ARCH) state dict as safetensors: make DATASET=awa2 AWA2_ROOT=… AWA2_WEIGHTS=$(AWA2_ARCH).safetensors (README: "Fine-tuning ImageNet weights"))
endif
ifeq ($(wildcard $(AWA2_WEIGHTS)),)
$(error AWA2_WEIGHTS=$(AWA2_WEIGHTS): no such file)
endif
AWA2_FREEZE ?=
awa2.SEED := 1
awa2.WEIGHTS := $(AWA2_WEIGHTS)
awa2.ARCH := $(AWA2_ARCH)
# Images are stored as the authors' evaluation transform, torchvision's Resize(256) +
# CenterCrop(224) (--centre-crop), for every split: one images.h5 holds one geometry, and the
# SJE is fitted on train features that must look like the test ones; the random resized crop
# of fine-tuning then draws from the stored 224 px window (README: "Fine-tuning ImageNet weights").
awa2.PREPARE := --dataset awa2 --root $(AWA2_ROOT) --size 224 --centre-crop
awa2.FINE_TUNE := --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --schedule step --step-size 20 --gamma 0.1 \
    --resized-crop --batch-size 16 $(if $(strip $(AWA2_FREEZE)),--freeze-until $(AWA2_FREEZE))
ifeq ($(PROFILE),smoke)
# 64 px (the whole image squashed) and one epoch each: a check that the import, the
# fine-tuning and every stage run.
awa2.PREPARE := --dataset awa2 --root $(AWA2_ROOT) --size 64
awa2.TRAIN := $(awa2.FINE_TUNE) --epochs 1
awa2.ADV_TRAIN := --epochs 1 --batch-size 16 --learning-rate 0.001 --momentum 0.9 --weight-decay 0 --pgd-steps 2
else
awa2.TRAIN := $(awa2.FINE_TUNE) --epochs 100
# The authors' adversarial fine-tuning: 30 epochs, the first 10 clean, then (clean + adv)/2.
awa2.ADV_TRAIN := --epochs 30 --warmup-epochs 10 --lambda 0.5 --batch-size 16 --learning-rate 0.001 --momentum 0.9 \
    --weight-decay 0 --schedule constant --pgd-steps 7
endif
awa2.ATTACK := --method ifgsm --split test
awa2.SJE := --epochs 100 --learning-rate 0.01 --feature-normalisation none
