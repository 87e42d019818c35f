"""First-party monai-weakloc plugin: metrics. Components are registered by :func:`weakloc_metrics.plugin.register`."""
