# cub: CUB-200-2011 (200 bird classes, 312 attributes): the official tree, e.g. CUB_200_2011/
# Run with: make DATASET=cub CUB_ROOT=/path/to/tree CUB_WEIGHTS=/path/to/resnet152.safetensors
# The paper's fine-tuning recipe and the settings every real dataset shares: pipelines/real-dataset.mk.
$(eval $(call real_dataset,cub,CUB))
