"""The runtime's click commands: ``upscale`` (images, folders, and one video file) and ``models``."""
