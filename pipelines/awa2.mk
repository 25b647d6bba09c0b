# awa2: AwA2 (50 animal classes, 85 attributes): the official tree with JPEGImages/
# Run with: make DATASET=awa2 AWA2_ROOT=/path/to/tree AWA2_WEIGHTS=/path/to/resnet152.safetensors
# The paper's fine-tuning recipe and the settings every real dataset shares: pipelines/real-dataset.mk.
$(eval $(call real_dataset,awa2,AWA2))
