"""First-party monai-weakloc plugin: networks. Components are registered by :func:`weakloc_networks.plugin.register`."""
