"""Sign-in flows (OAuth) that connect VK communities, Facebook Pages and Instagram accounts as channels."""
