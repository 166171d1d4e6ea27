"""Peak memory of checking one uploaded picture, next to the full decode it replaced.

Usage: .venv/bin/python bench/image_memory.py
Each case runs in a fresh child process; its peak resident memory (VmHWM, reset just before
the call) minus its resident memory before the call is the figure. Cases: a large licence that
is still accepted (4000 × 3000 phone photo), the same as a 1-inch photo (decoded at 1/2), and
the 0.6 MB, 6000 × 6600 JPEG of issue 14 (refused from its header). The baseline is the
pipeline used before: a full decode, an EXIF-transposed copy, an RGB copy, an optimised save.
Prints a table and writes bench/results/image_memory.json.
"""
import io
import json
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def photo_like(width: int, height: int, quality: int = 90) -> bytes:
    """A JPEG with texture (noise), so that it compresses like a photo, not like a flat page."""
    from PIL import Image

    noise = Image.effect_noise((width // 4, height // 4), 40).resize((width, height))
    picture = Image.merge("RGB", (noise, noise.rotate(180), noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()


def flat(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "JPEG", quality=90)
    return out.getvalue()


def full_decode(data: bytes) -> None:
    """The pipeline before issue 14 #8, for comparison."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as probe:
        probe.load()
        image = ImageOps.exif_transpose(probe).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, optimize=True)


def checked(kind: str):
    def run(data: bytes) -> None:
        from app.services import images

        try:
            images.clean_jpeg(data, kind=kind, max_bytes=len(data), label="bench")
        except images.ImageRefused:
            pass
    return run


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    raise RuntimeError(field)


def _child(fn, data: bytes, queue) -> None:
    import PIL.Image  # noqa: F401  (imported before measuring, as in a running worker)

    from app.services import images  # noqa: F401

    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    start = time.perf_counter()
    fn(data)
    seconds = time.perf_counter() - start
    queue.put({"peak_mb": round((_status("VmHWM") - before) / 1024, 1),
               "seconds": round(seconds, 3)})


def measure(fn, data: bytes) -> dict:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(fn, data, queue))
    child.start()
    result = queue.get(timeout=300)
    child.join()
    return result


def main() -> None:
    licence = photo_like(4000, 3000)
    huge = flat(6000, 6600)
    cases = [
        ("licence 4000x3000, full decode (before)", full_decode, licence),
        ("licence 4000x3000, document check", checked("document"), licence),
        ("same file as a 1-inch photo", checked("photo"), licence),
        ("6000x6600 JPEG, full decode (before)", full_decode, huge),
        ("6000x6600 JPEG, document check (refused)", checked("document"), huge),
    ]
    sizes = {id(licence): len(licence), id(huge): len(huge)}
    results = []
    for name, fn, data in cases:
        figures = measure(fn, data)
        results.append({"case": name, "file_mb": round(sizes[id(data)] / 1024 / 1024, 2),
                        **figures})
        print(f"{name:<44} {results[-1]['file_mb']:>6} MB file  peak +{figures['peak_mb']:>7} MB"
              f"  {figures['seconds']:.2f} s")
    out = ROOT / "bench" / "results" / "image_memory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
