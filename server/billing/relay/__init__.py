"""The outbox relay: committed outbox events to RabbitMQ as CloudEvents (ADR 0057)."""
