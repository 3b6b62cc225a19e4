"""Reading and writing pixels: images (EXIF, colour profiles, 16-bit PNG/TIFF, alpha), the fast PNG encoder,
video through PyAV, and the per-image limits checked from a file's header."""
