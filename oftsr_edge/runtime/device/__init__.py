"""What the machine offers: free RAM and VRAM, usable cores, Jetson detection and the memory presets per
device."""
