"""Two-stage pretraining: packed token shards, the mixture sampler, the training loop, checkpoints, scale-out."""
