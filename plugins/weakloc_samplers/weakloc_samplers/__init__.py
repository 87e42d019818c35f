"""First-party monai-weakloc plugin: samplers. Components are registered by :func:`weakloc_samplers.plugin.register`.

- :class:`~weakloc_samplers.hard_example.HardExampleSampler` with
  :func:`~weakloc_samplers.hard_example.find_hard_examples`: hard-example two-stage training (multi-attention).
- :class:`~weakloc_samplers.selective.SelectiveSampler`: draws in proportion to each sample's last loss (PRN).
- :class:`~weakloc_samplers.triplet.TripletBatchSampler`: triplet batches with selectively sampled negatives.
- :mod:`weakloc_samplers.handlers`: the Ignite handlers that refresh them during training.
"""
