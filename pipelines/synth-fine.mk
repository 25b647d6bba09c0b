# synth-fine: rendered birds whose classes follow real CUB class-attribute profiles, so
# classes share many attributes (a fine-grained dataset, like CUB). default: 32 px, 10 of
# CUB's classes (as many as synth-coarse has, so that fine vs coarse comparisons are free of
# the class-count confound, docs/claims.md), a narrow ResNet-8, so both datasets run in
# minutes on 2 cores; smoke:
# 16 px, 5 classes, 20 images each, one or two epochs (a check that everything runs, its
# numbers mean nothing); full: the default's recipe with more images and epochs.
synth-fine.SEED := 1
# One robust model per eps: measured against one model trained at 0.12 and evaluated at
# every eps, which recovered almost nothing at 0.01 (R 0.93 vs 0.62).
synth-fine.ROBUST_TRAINING := per-eps
synth-fine.ATTACK := --method ifgsm --split test
synth-fine.SJE := --epochs 50 --learning-rate 0.01 --feature-normalisation standardise
ifeq ($(PROFILE),full)
# synth-coarse.mk's full recipe (see there): 10 classes of 400 images like synth-coarse, 40 epochs.
synth-fine.PREPARE := --dataset synth-fine --size 32 --classes 10 --images-per-class 400
synth-fine.TRAIN := --arch cifar-resnet8 --width 16 --epochs 40 --batch-size 128 --learning-rate 0.1 --schedule one-cycle --nesterov
synth-fine.ADV_TRAIN := --epochs 10 --batch-size 128 --learning-rate 0.05 --schedule one-cycle --nesterov --pgd-steps 2
synth-fine.ADV_TRAIN.LARGEST := --epochs 10 --batch-size 128 --learning-rate 0.05 --schedule one-cycle --nesterov --pgd-steps 2 --eps-ramp-epochs 3
else ifeq ($(PROFILE),smoke)
synth-fine.PREPARE := --dataset synth-fine --size 16 --classes 5 --images-per-class 20
synth-fine.TRAIN := --arch cifar-resnet8 --width 4 --epochs 2 --batch-size 32 --learning-rate 0.1
synth-fine.ADV_TRAIN := --epochs 1 --batch-size 32 --learning-rate 0.01 --pgd-steps 2
synth-fine.SJE := --epochs 5 --learning-rate 0.01 --feature-normalisation standardise
else
# The one-cycle recipe (15% warm-up, Nesterov, batch 128, reflect-padded crops) and 200 images
# per class, chosen by measurement (docs/results.md § The default profile's recipe).
# Ten classes of 200 images, as synth-coarse (it had 20 until issue 20: 77.6% clean accuracy
# against synth-coarse's 94.5%, a confound of every fine vs coarse comparison).
synth-fine.PREPARE := --dataset synth-fine --size 32 --classes 10 --images-per-class 200
synth-fine.TRAIN := --arch cifar-resnet8 --width 16 --epochs 30 --batch-size 128 --learning-rate 0.1 --schedule one-cycle --nesterov
# Robust models: synth-coarse.mk's recipe, ten one-cycle epochs of PGD-2 (with 20 classes and
# twice the images it had four, for time), so both datasets get the same treatment.
synth-fine.ADV_TRAIN := --epochs 10 --batch-size 128 --learning-rate 0.05 --schedule one-cycle --nesterov --pgd-steps 2
# The largest budget: two epochs ramping eps up, two at full eps; PGD-3 rather than PGD-5 for
# time (with PGD-5 the model recovered almost nothing at 0.12 px either: R 0.98 / 0.99).
synth-fine.ADV_TRAIN.LARGEST := --epochs 4 --batch-size 128 --learning-rate 0.02 --pgd-steps 3 --eps-ramp-epochs 2
endif
