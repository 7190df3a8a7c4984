"""The server's queue: runs submitted, their order, and the dispatch that starts them, with no process resident while they wait."""
