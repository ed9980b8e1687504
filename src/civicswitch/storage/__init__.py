"""The unit of work that assembles every domain's store (SQL and in-memory): the only place that knows all stores."""
