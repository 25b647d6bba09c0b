# lad: LAD (230 classes, 359 attributes): the official annotation files and images
# Run with: make DATASET=lad LAD_ROOT=/path/to/tree LAD_WEIGHTS=/path/to/resnet152.safetensors
# The paper's fine-tuning recipe and the settings every real dataset shares: pipelines/real-dataset.mk.
$(eval $(call real_dataset,lad,LAD))
