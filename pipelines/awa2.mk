# awa2: AwA2 (50 animal classes, 85 attributes): the official tree with JPEGImages/
# Run with: make DATASET=awa2 AWA2_ROOT=/path/to/tree
# Images are stored at 112 px and a ResNet-18 is trained from scratch on them: a size
# a 2-core CPU can train in hours, not days (the paper fine-tuned an ImageNet ResNet-152
# at 224 px on a GPU). PROFILE=full uses 224 px and more epochs; PROFILE=smoke 64 px
# and one epoch each, a check that the import and every stage run.
AWA2_ROOT ?=
ifeq ($(strip $(AWA2_ROOT)),)
$(error AWA2_ROOT is not set: make DATASET=awa2 AWA2_ROOT=/path/to/the/awa2/tree)
endif
awa2.SEED := 1
ifeq ($(PROFILE),full)
awa2.PREPARE := --dataset awa2 --root $(AWA2_ROOT) --size 224
awa2.TRAIN := --arch resnet18 --epochs 60 --batch-size 32 --learning-rate 0.05
awa2.ADV_TRAIN := --epochs 10 --batch-size 32 --learning-rate 0.005 --pgd-steps 7
else ifeq ($(PROFILE),smoke)
awa2.PREPARE := --dataset awa2 --root $(AWA2_ROOT) --size 64
awa2.TRAIN := --arch resnet18 --width 16 --epochs 1 --batch-size 64 --learning-rate 0.05
awa2.ADV_TRAIN := --epochs 1 --batch-size 64 --learning-rate 0.005 --pgd-steps 2
else
awa2.PREPARE := --dataset awa2 --root $(AWA2_ROOT) --size 112
awa2.TRAIN := --arch resnet18 --epochs 30 --batch-size 64 --learning-rate 0.05
awa2.ADV_TRAIN := --epochs 5 --batch-size 64 --learning-rate 0.005 --pgd-steps 5
endif
awa2.ATTACK := --method ifgsm --split test
awa2.SJE := --epochs 100 --learning-rate 0.01 --feature-normalisation none
