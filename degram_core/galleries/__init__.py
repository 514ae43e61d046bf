"""Galleries: named centroids of one model's embeddings (speakers, or taught sounds), the one
enrollment path that makes them, and identification against them."""
