# cub: CUB-200-2011 (200 bird classes, 312 attributes): the official tree, e.g. CUB_200_2011/
# Run with: make DATASET=cub CUB_ROOT=/path/to/tree
# Images are stored at 112 px and a ResNet-18 is trained from scratch on them: a size
# a 2-core CPU can train in hours, not days (the paper fine-tuned an ImageNet ResNet-152
# at 224 px on a GPU). PROFILE=full uses 224 px and more epochs; PROFILE=smoke 64 px
# and one epoch each, a check that the import and every stage run.
CUB_ROOT ?=
ifeq ($(strip $(CUB_ROOT)),)
$(error CUB_ROOT is not set: make DATASET=cub CUB_ROOT=/path/to/the/cub/tree)
endif
cub.SEED := 1
ifeq ($(PROFILE),full)
cub.PREPARE := --dataset cub --root $(CUB_ROOT) --size 224
cub.TRAIN := --arch resnet18 --epochs 60 --batch-size 32 --learning-rate 0.05
cub.ADV_TRAIN := --epochs 10 --batch-size 32 --learning-rate 0.005 --pgd-steps 7
else ifeq ($(PROFILE),smoke)
cub.PREPARE := --dataset cub --root $(CUB_ROOT) --size 64
cub.TRAIN := --arch resnet18 --width 16 --epochs 1 --batch-size 64 --learning-rate 0.05
cub.ADV_TRAIN := --epochs 1 --batch-size 64 --learning-rate 0.005 --pgd-steps 2
else
cub.PREPARE := --dataset cub --root $(CUB_ROOT) --size 112
cub.TRAIN := --arch resnet18 --epochs 30 --batch-size 64 --learning-rate 0.05
cub.ADV_TRAIN := --epochs 5 --batch-size 64 --learning-rate 0.005 --pgd-steps 5
endif
cub.ATTACK := --method ifgsm --split test
cub.SJE := --epochs 100 --learning-rate 0.01 --feature-normalisation none
