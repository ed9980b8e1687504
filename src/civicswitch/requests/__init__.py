"""The service-request aggregate: model, commands, use cases, store."""
