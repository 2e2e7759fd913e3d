"""`make bench`: flowport's figures, each timing measured side by side with its baseline in one run."""
