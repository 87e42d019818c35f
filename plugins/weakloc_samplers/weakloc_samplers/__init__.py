"""First-party monai-weakloc plugin: samplers. Components are registered by :func:`weakloc_samplers.plugin.register`."""
