#!/usr/bin/env bash
# The torch-free runtime on aarch64 (the CPU of a Jetson), under emulation: qemu-user-static runs an arm64 Debian
# root file system built from Debian's own packages, with the runtime's aarch64 wheels from PyPI inside it. Then:
#   1. the bundled default model upscales a crop of the sample photo on aarch64 and on this machine, and the two
#      outputs are compared under the golden-output bound (tests/runtime/golden.py: |Δ| ≤ 1 on < 0.1 % of values,
#      PSNR ≥ 60 dB);
#   2. the runtime's own tests run there (the base install: tests that need torch/onnx/PyAV skip with their reason).
#
# Usage (as root, on a Debian host: the arm64 packages come from the mirror in this machine's apt sources):
#   bash benchmarks/aarch64_check.sh [PYTEST ARGS...]    default tests: tests/runtime
# The root file system and wheels are built once into .aarch64/ (ignored by git; OFTSR_AARCH64_CACHE moves it);
# delete the folder to rebuild. Emulation is slow: a 48×48 crop, and the tests of the runtime only.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CACHE=${OFTSR_AARCH64_CACHE:-$REPO/.aarch64}
ROOTFS=$CACHE/rootfs
CROP=${OFTSR_AARCH64_CROP:-48}
# onnxruntime 1.32.0 crashes while loading its native module under Debian 12's qemu-user (7.2), before any of our
# code runs; 1.22.0 and 1.19.2 (the newest for JetPack 5's Python 3.8) load. OFTSR_AARCH64_ORT= takes PyPI's newest.
ORT=${OFTSR_AARCH64_ORT-1.22.0}
ORT_REQ=()
[ -z "$ORT" ] || ORT_REQ=("onnxruntime==$ORT")
die() { echo "aarch64_check: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (chroot, binfmt_misc, mmdebstrap)"
# shellcheck disable=SC1091
. /etc/os-release
[ "${ID:-}" = debian ] || die "needs a Debian host (its mirror serves arm64 packages); this is ${ID:-unknown}"
SUITE=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}

if ! command -v mmdebstrap >/dev/null || [ ! -x /usr/bin/qemu-aarch64-static ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static mmdebstrap binfmt-support >/dev/null
fi
# arm64 binaries must run through qemu: binfmt_misc mounted, the qemu-aarch64 handler enabled
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "cannot register qemu-aarch64 with binfmt_misc"

mirror() {  # the Debian archive this machine's apt uses for $SUITE (deb822 .sources or one-line .list files)
    python3 - "$SUITE" <<'EOF'
import glob, sys
suite = sys.argv[1]
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line and not line.startswith("#") and ":" in line and not line[0].isspace():
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.split()
        if fields.get("enabled", ["yes"])[0] != "no" and "deb" in fields.get("types", []) \
                and suite in fields.get("suites", []) and fields.get("uris"):
            print(fields["uris"][0]); sys.exit(0)
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        words = [w for w in line.split("#")[0].split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
            print(words[1]); sys.exit(0)
sys.exit(1)
EOF
}

unmount_below() {  # whatever an interrupted run left mounted inside $1 (never delete through a bind of /dev)
    { findmnt -rn -o TARGET | grep -F "$1/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
}
remove() { unmount_below "$1"; rm -rf --one-file-system "$1"; }

T0=$(date +%s)
if [ ! -e "$ROOTFS/.complete" ]; then
    MIRROR=$(mirror) || die "no 'deb' source for $SUITE in this machine's apt sources"
    echo "+ building an arm64 $SUITE root file system in $ROOTFS (once; a few minutes)"
    remove "$ROOTFS.tmp" && mkdir -p "$CACHE"
    mmdebstrap --quiet --arch=arm64 --variant=apt --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$ROOTFS.tmp" "deb $MIRROR $SUITE main"
    touch "$ROOTFS.tmp/.complete"
    remove "$ROOTFS" && mv "$ROOTFS.tmp" "$ROOTFS"
fi
ARM_PY=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "+ arm64 root file system ready: Python $ARM_PY ($(( $(date +%s) - T0 )) s)"

# this checkout's tracked files (what a clone holds), the runtime built from them as a wheel, and its aarch64
# dependencies (and pytest's) downloaded from PyPI here: the emulated side installs them with no network
unmount_below "$ROOTFS"
rm -rf --one-file-system "$ROOTFS/src" "$ROOTFS/wheels" && mkdir -p "$ROOTFS/src" "$ROOTFS/wheels"
git ls-files -z | tar -c --null -T - | tar -x -C "$ROOTFS/src"
python3 -m pip wheel -q --no-deps -w "$ROOTFS/wheels" "$ROOTFS/src"
python3 -m pip download -q --only-binary=:all: --python-version "$ARM_PY" --implementation cp \
    --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 --platform manylinux_2_17_aarch64 \
    --platform manylinux2014_aarch64 -d "$ROOTFS/wheels" "$ROOTFS"/wheels/oftsr_edge-*.whl pytest hypothesis \
    "${ORT_REQ[@]}"
rm -rf "$ROOTFS/src/build" "$ROOTFS"/src/*.egg-info

MOUNTS=()
cleanup() { for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
for m in proc dev sys; do
    mountpoint -q "$ROOTFS/$m" || { mount --rbind "/$m" "$ROOTFS/$m"; MOUNTS=("$ROOTFS/$m" "${MOUNTS[@]}"); }
done
arm() { chroot "$ROOTFS" env -i HOME=/root PATH=/opt/oftsr/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"; }
[ -x "$ROOTFS/opt/oftsr/bin/python" ] || arm python3 -m venv /opt/oftsr
WHEEL=$(cd "$ROOTFS/wheels" && ls oftsr_edge-*.whl)  # its name, as the emulated side sees it under /wheels
arm pip install -q --no-index --find-links /wheels --force-reinstall --no-deps "/wheels/$WHEEL"
arm pip install -q --no-index --find-links /wheels "/wheels/$WHEEL" pytest hypothesis "${ORT_REQ[@]}"
arm python -c 'import platform, numpy, onnxruntime, PIL; print("+ on", platform.machine(), "python",
    platform.python_version(), "numpy", numpy.__version__, "onnxruntime", onnxruntime.__version__, "Pillow",
    PIL.__version__)'

# 1. the bundled default model on a crop of the sample photo, on aarch64 and here, compared under the bound
OUT=$(mktemp -d)
trap 'cleanup; rm -rf "$OUT"' EXIT
python3 -c "import sys; from PIL import Image; Image.open(sys.argv[1]).crop((56, 56, 56 + $CROP, 56 + $CROP)).save(sys.argv[2])" \
    examples/kodim23_lr.png "$ROOTFS/src/crop.png"
cp "$ROOTFS/src/crop.png" "$OUT/crop.png"
T1=$(date +%s)
arm sh -c 'cd /src && oftsr-edge upscale crop.png -o /src/out-arm --backend ort-cpu --tile 0 --seed 7 --quiet'
echo "+ aarch64 upscale of a ${CROP}×${CROP} crop: $(( $(date +%s) - T1 )) s under emulation"
PYTHONPATH=$REPO python3 -m oftsr_edge.cli upscale "$OUT/crop.png" -o "$OUT/out-x86" --backend ort-cpu --tile 0 --seed 7 --quiet
PYTHONPATH=$REPO python3 - "$ROOTFS/src/out-arm/crop.png" "$OUT/out-x86/crop.png" <<'EOF'
import sys
import numpy as np
from PIL import Image
from tests.runtime.golden import BOUND, drift
arm, x86 = (np.asarray(Image.open(p).convert("RGB")) for p in sys.argv[1:3])
d = drift(arm, x86)
print(f"+ aarch64 vs x86_64, bundled default model, {arm.shape[1]}x{arm.shape[0]} output: {d}")
sys.exit(0 if d.within(BOUND) else 1)
EOF

# 2. the runtime's tests on aarch64 (torch-free: a skip for a missing optional extra is allowed, nothing else)
T2=$(date +%s)
arm sh -c "cd /src && OFTSR_STRICT_SKIPS=base python -m pytest -q -p no:cacheprovider ${*:-tests/runtime}"
echo "+ aarch64 tests: $(( $(date +%s) - T2 )) s; whole check: $(( $(date +%s) - T0 )) s"
