"""The integration hub: outbox, delivery worker, connectors to each body's own system, inbound updates, health."""
