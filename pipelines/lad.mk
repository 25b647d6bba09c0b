# lad: LAD (230 classes, 359 attributes): the official annotation files and images
# Run with: make DATASET=lad LAD_ROOT=/path/to/tree
# Images are stored at 112 px and a ResNet-18 is trained from scratch on them: a size
# a 2-core CPU can train in hours, not days (the paper fine-tuned an ImageNet ResNet-152
# at 224 px on a GPU). PROFILE=full uses 224 px and more epochs; PROFILE=smoke 64 px
# and one epoch each, a check that the import and every stage run.
LAD_ROOT ?=
ifeq ($(strip $(LAD_ROOT)),)
$(error LAD_ROOT is not set: make DATASET=lad LAD_ROOT=/path/to/the/lad/tree)
endif
lad.SEED := 1
ifeq ($(PROFILE),full)
lad.PREPARE := --dataset lad --root $(LAD_ROOT) --size 224
lad.TRAIN := --arch resnet18 --epochs 60 --batch-size 32 --learning-rate 0.05
lad.ADV_TRAIN := --epochs 10 --batch-size 32 --learning-rate 0.005 --pgd-steps 7
else ifeq ($(PROFILE),smoke)
lad.PREPARE := --dataset lad --root $(LAD_ROOT) --size 64
lad.TRAIN := --arch resnet18 --width 16 --epochs 1 --batch-size 64 --learning-rate 0.05
lad.ADV_TRAIN := --epochs 1 --batch-size 64 --learning-rate 0.005 --pgd-steps 2
else
lad.PREPARE := --dataset lad --root $(LAD_ROOT) --size 112
lad.TRAIN := --arch resnet18 --epochs 30 --batch-size 64 --learning-rate 0.05
lad.ADV_TRAIN := --epochs 5 --batch-size 64 --learning-rate 0.005 --pgd-steps 5
endif
lad.ATTACK := --method ifgsm --split test
lad.SJE := --epochs 100 --learning-rate 0.01 --feature-normalisation none
