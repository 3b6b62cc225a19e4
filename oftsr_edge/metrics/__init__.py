"""Image-quality metrics (numpy only): PSNR/SSIM on Y, NIQE, LPIPS when its weights are given."""
