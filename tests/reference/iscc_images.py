#!/usr/bin/env python3
"""Reference ISCC Image-Codes for the Rust test in src/fingerprint/image.rs.

Usage: iscc_images.py WORKDIR

In WORKDIR/venv it installs ISCC's reference implementation (iscc-sdk, which prepares
images with Pillow) at pinned versions; it extracts CC0 / public-domain sample photographs
from the scikit-image wheel (downloaded with `pip download`, never imported) and writes
generated test images beside them in WORKDIR/images; then it writes
WORKDIR/reference.json: {file name: {"iscc": 256-bit Image-Code, "pixels": the 1024
pixels iscc-sdk's image_normalize hands to the code}}.

Everything is cached: a second run with the same pins only prints the JSON's path.
Exit status 3 means the reference could not be set up here (no venv, no package index);
the Rust test skips on it unless AIPROV_REQUIRE_REFERENCE=1.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

# The pins. iscc-sdk 0.9.7 trims near-uniform borders with a tolerance by default; Pillow
# does the decoding and every pixel operation; iscc-lib computes the code from the pixels.
PINS = ["iscc-sdk==0.9.7", "pillow==13.0.0", "iscc-lib==0.7.0"]
SKIMAGE = "scikit-image==0.25.2"
# Bump when the generated images or the JSON change, so cached results are rebuilt.
SCRIPT_VERSION = "2"

# scikit-image's bundled samples whose docstrings (skimage/data/_fetchers.py) say CC0 or
# public domain; the others (moon, page, logo, phantom, color, motorcycle, chessboards)
# state no licence and are left out.
SAMPLES = [
    "astronaut.png",  # NASA, public domain
    "brick.png",  # CC0 Textures, CC0
    "camera.png",  # Lav Varshney, CC0
    "cell.png",  # CC0
    "chelsea.png",  # Stefan van der Walt, CC0
    "clock_motion.png",  # Stefan van der Walt, public domain
    "coffee.png",  # Rachel Michetti, CC0
    "coins.png",  # no known copyright restrictions
    "grass.png",  # CC0 Textures, CC0
    "gravel.png",  # CC0 Textures, CC0
    "horse.png",  # Andreas Preuss, CC0
    "hubble_deep_field.jpg",  # NASA, public domain
    "ihc.png",  # no known copyright restrictions
    "microaneurysms.png",  # Andreas Maier, CC0
    "retina.jpg",  # CC0 1.0
    "rocket.jpg",  # SpaceX, public domain
    "text.png",  # public domain
]

UNAVAILABLE = 3


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    work = Path(sys.argv[1]).resolve()
    venv = work / "venv"
    stamp = work / "stamp.json"
    wanted = {"pins": PINS, "skimage": SKIMAGE, "script": SCRIPT_VERSION}
    if os.environ.get("AIPROV_ISCC_IN_VENV") == "1":
        generate(work)
        stamp.write_text(json.dumps(wanted))
        return
    if stamp.exists() and json.loads(stamp.read_text()) == wanted and (work / "reference.json").exists():
        print(work / "reference.json")
        return
    work.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    if not python.exists():
        step([sys.executable, "-m", "venv", str(venv)], "create a venv")
    step([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS], "pip install")
    wheels = work / "wheels"
    step(
        [str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--dest", str(wheels), SKIMAGE],
        "pip download scikit-image",
    )
    images = work / "images"
    images.mkdir(exist_ok=True)
    wheel = next(wheels.glob("scikit_image-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for name in SAMPLES:
            (images / name).write_bytes(z.read(f"skimage/data/{name}"))
    env = dict(os.environ, AIPROV_ISCC_IN_VENV="1")
    subprocess.run([str(python), __file__, str(work)], env=env, check=True)
    print(work / "reference.json")


def step(cmd, what):
    """Runs a setup step; when it fails, says so and exits with UNAVAILABLE."""
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"reference unavailable: {what} failed: {e}", file=sys.stderr)
        sys.exit(UNAVAILABLE)


def generate(work):
    """Inside the venv: writes the generated images, then the reference codes of all."""
    import iscc_lib
    import iscc_sdk as idk
    from PIL import Image

    images = work / "images"
    make_generated(images, Image)
    out = {}
    for path in sorted(images.iterdir()):
        # code_image with no metadata and no thumbnail: what is left is image_normalize
        # (the pixels below) and iscc_lib.gen_image_code_v0 over them.
        meta = idk.code_image(path, bits=256, extract_meta=False, create_thumb=False)
        with Image.open(path) as img:
            pixels = list(idk.image_normalize(img))
        assert iscc_lib.gen_image_code_v0(pixels, bits=256)["iscc"] == meta.iscc
        out[path.name] = {"iscc": meta.iscc, "pixels": pixels}
    (work / "reference.json").write_text(json.dumps(out, indent=1, sort_keys=True))


def make_generated(images, Image):
    """Test images for each step of the preparation, derived from the CC0 samples."""
    from PIL import ImageDraw

    chelsea = Image.open(images / "chelsea.png").convert("RGB")
    coffee = Image.open(images / "coffee.png").convert("RGB")
    astronaut = Image.open(images / "astronaut.png").convert("RGB")
    camera = Image.open(images / "camera.png")

    # Transparency: straight alpha, a gradient from opaque to clear.
    rgba = chelsea.convert("RGBA")
    w, h = rgba.size
    alpha = Image.linear_gradient("L").resize((w, h)).rotate(90)
    rgba.putalpha(alpha)
    rgba.save(images / "gen_alpha_rgba.png")
    # Gray with alpha (LA).
    la = camera.convert("LA")
    la.putalpha(Image.linear_gradient("L").resize(la.size))
    la.save(images / "gen_alpha_la.png")
    # Palette with a transparent index (tRNS) and an opaque palette image.
    pal = coffee.quantize(64)
    pal.save(images / "gen_palette_trns.png", transparency=3)
    pal.save(images / "gen_palette.png")
    # RGB with a tRNS colour: Pillow keeps the pixels, iscc-sdk ignores that transparency.
    small = coffee.resize((200, 133))
    small.save(images / "gen_rgb_trns.png", transparency=small.getpixel((0, 0)))
    # GIF with a transparent index, and one without.
    chelsea.quantize(128).save(images / "gen_transparent.gif", transparency=5)
    coffee.quantize(200).save(images / "gen_opaque.gif")
    # WebP: lossless, lossless with alpha, lossy.
    chelsea.save(images / "gen_lossless.webp", lossless=True)
    rgba.save(images / "gen_lossless_alpha.webp", lossless=True)
    coffee.save(images / "gen_lossy.webp", quality=80)
    # Gray PNG (camera itself is 8-bit gray), 1-bit and 4-bit gray.
    camera.convert("1").save(images / "gen_bilevel.png")
    camera.convert("L").save(images / "gen_gray4.png", bits=4)
    # 16-bit PNGs, written by hand: Pillow writes no 16-bit RGB.
    write_png16(images / "gen_16bit_rgb.png", astronaut.resize((300, 280)), "RGB")
    write_png16(images / "gen_16bit_rgba.png", rgba.resize((260, 300)), "RGBA")
    write_png16(images / "gen_16bit_gray.png", camera.resize((240, 250)), "L")
    write_png16(images / "gen_16bit_gray_low.png", camera.resize((250, 240)), "L", scale=False)
    # JPEG: 4:2:0 (Pillow's default), 4:4:4, gray, and EXIF orientations.
    chelsea.save(images / "gen_420.jpg", quality=90)
    coffee.save(images / "gen_444.jpg", quality=95, subsampling=0)
    camera.save(images / "gen_gray.jpg", quality=85)
    for orientation in (3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        astronaut.resize((301, 217)).save(images / f"gen_exif_{orientation}.jpg", quality=92, exif=exif)
    # PNG with an EXIF orientation in an eXIf chunk.
    exif = Image.Exif()
    exif[0x0112] = 6
    coffee.resize((240, 160)).save(images / "gen_exif_6.png", exif=exif)
    # Borders: uniform, near-uniform (noise within the tolerance), one-sided flat band,
    # and a smooth gradient on one side that must be kept.
    framed = Image.new("RGB", (coffee.width + 90, coffee.height + 50), (200, 30, 30))
    framed.paste(coffee, (40, 20))
    framed.save(images / "gen_border.png")
    noisy = framed.copy()
    px = noisy.load()
    for y in range(noisy.height):
        for x in range(noisy.width):
            if x < 40 or y < 20 or x >= 40 + coffee.width or y >= 20 + coffee.height:
                d = (x * 7 + y * 13) % 21 - 10
                px[x, y] = (200 + d, 30 + d, 30 - d)
    noisy.save(images / "gen_border_noisy.png")
    band = Image.new("RGB", (chelsea.width, chelsea.height + 60), (250, 250, 250))
    band.paste(chelsea, (0, 60))
    band.save(images / "gen_band_top.png")
    sky = Image.new("RGB", (chelsea.width, chelsea.height + 80))
    draw = ImageDraw.Draw(sky)
    for y in range(80):
        draw.line([(0, y), (sky.width, y)], fill=(120 + y // 8, 160 + y // 10, 230))
    sky.paste(chelsea, (0, 80))
    sky.save(images / "gen_sky_top.png")
    # Sizes: enlarging a tiny image, an exact 32x32, a very tall and a very wide strip.
    chelsea.resize((20, 13)).save(images / "gen_tiny.png")
    chelsea.resize((32, 32)).save(images / "gen_32.png")
    chelsea.resize((7, 900)).save(images / "gen_tall.png")
    chelsea.resize((1500, 9)).save(images / "gen_wide.png")
    # Pillow 13 resizes vertically first when the height shrinks by over twice the width.
    coffee.resize((200, 420)).save(images / "gen_portrait.png")
    coffee.resize((420, 200)).save(images / "gen_landscape.png")


def write_png16(path, img, mode, scale=True):
    """A 16-bit PNG of `img` (mode L, RGB or RGBA); each value v becomes v*257 (+ x*13 % 257,
    so the low byte carries data), or, with scale=False, just v (gray values below 256)."""
    import struct
    import zlib

    img = img.convert(mode)
    channels = len(mode)
    color_type = {"L": 0, "RGB": 2, "RGBA": 6}[mode]
    raw = bytearray()
    px = img.load()
    for y in range(img.height):
        raw.append(0)
        for x in range(img.width):
            values = px[x, y] if channels > 1 else (px[x, y],)
            for v in values:
                v16 = v * 257 - ((x * 13) % 257 if v else 0) if scale else v
                raw += struct.pack(">H", v16)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", img.width, img.height, 16, color_type, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")
    path.write_bytes(png)


if __name__ == "__main__":
    main()
