"""Licence OCR on the generated corpus: per-field accuracy, and seconds per photo next to a bare
RapidOCR call on the same photos (target: at most 1.2x).

    .venv/bin/python bench/ocr.py [--count 40]

Prints a table and writes bench/results/ocr.json. Photos: tests/licence_corpus.py (both layouts,
every kind of entity, 1,000-4,000 px, rotations, skew, glare, JPEG 60-95).
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIELDS = ["uscc", "name", "type", "legal_representative", "registered_capital", "established",
          "address", "region"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=1000)
    args = parser.parse_args()

    from app.integrations import ocr
    from app.services.licence import parse_boxes
    from tests import licence_corpus

    cities = {name: code for code, (name, _) in licence_corpus.CITIES.items()}
    ocr.warm()
    right = {key: 0 for key in FIELDS}
    total = {key: 0 for key in FIELDS}
    ours, bare, misses = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.first_seed, args.first_seed + args.count):
            sample = licence_corpus.sample(seed)
            path = Path(folder) / f"{seed}.jpg"
            path.write_bytes(sample.image)
            started = time.perf_counter()
            ocr.bare_read(str(path))
            bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            reading = parse_boxes(ocr.read(str(path)), cities)
            ours.append(time.perf_counter() - started)
            for key in FIELDS:
                if sample.truth.get(key) is None:
                    continue
                total[key] += 1
                if reading.get(key) == sample.truth[key]:
                    right[key] += 1
                else:
                    misses.append({"seed": seed, "field": key, "read": reading.get(key),
                                   "truth": sample.truth[key]})
    accuracy = {key: round(right[key] / total[key], 3) for key in FIELDS if total[key]}
    result = {
        "photos": args.count,
        "accuracy": accuracy,
        "seconds_per_photo": {"reader_mean": round(statistics.mean(ours), 2),
                              "bare_rapidocr_mean": round(statistics.mean(bare), 2),
                              "ratio": round(sum(ours) / sum(bare), 2),
                              "reader_p95": round(sorted(ours)[int(0.95 * (len(ours) - 1))], 2)},
        "misses": misses,
    }
    print(f"{'field':<22}{'accuracy':>10}{'photos':>8}")
    for key in FIELDS:
        if total[key]:
            print(f"{key:<22}{accuracy[key]:>10.1%}{total[key]:>8}")
    times = result["seconds_per_photo"]
    print(f"seconds per photo: reader {times['reader_mean']}, bare RapidOCR "
          f"{times['bare_rapidocr_mean']}, ratio {times['ratio']}x (target <= 1.2x)")
    out = ROOT / "bench" / "results" / "ocr.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
