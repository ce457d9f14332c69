"""Images: references, manifests, the content store, layers and base-image bootstrap."""
