"""ID card photos (issue 20): seconds per photo of the full cross-check (read_id_card, then
differences against the roster row) next to a bare RapidOCR call on the same files, and the
accuracy on the generated photos.

    .venv/bin/python bench/photos.py [--photos 500] [--backs 50] [--first-seed 1000]

The photos (tests/id_card_corpus.py: 1,000-2,400 px, turned, skewed, blurred, JPEG 55-95) are
generated first, not timed. Each front is then read both ways, in turns (the bare call first
on even photos, second on odd ones). Prints p50/p95/mean/total of both, the ratio and the
accuracy; writes bench/results/photos.json with the load average before and after.
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

from bench.common import load_average, percentile  # noqa: E402


def _figures(seconds: list[float]) -> dict:
    return {"p50": round(percentile(seconds, 0.50), 3), "p95": round(percentile(seconds, 0.95), 3),
            "mean": round(statistics.mean(seconds), 3), "total": round(sum(seconds), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=500, help="fronts, timed both ways")
    parser.add_argument("--backs", type=int, default=50, help="backs, for side recognition")
    parser.add_argument("--first-seed", type=int, default=1000)
    args = parser.parse_args()

    from app.integrations import ocr
    from app.services.id_card import BACK, differences, read_id_card
    from tests import id_card_corpus

    with tempfile.TemporaryDirectory(prefix="jianpei-photos-") as folder:
        started = time.perf_counter()
        fronts, backs = [], []
        for seed in range(args.first_seed, args.first_seed + args.photos):
            sample = id_card_corpus.sample(seed)
            path = Path(folder) / f"front-{seed}.jpg"
            path.write_bytes(sample.jpeg)
            fronts.append((sample, str(path)))
        for seed in range(args.first_seed, args.first_seed + args.backs):
            sample = id_card_corpus.back_sample(seed)
            path = Path(folder) / f"back-{seed}.jpg"
            path.write_bytes(sample.jpeg)
            backs.append((sample, str(path)))
        generated_s = time.perf_counter() - started
        ocr.warm()

        load_before = load_average()
        checked, bare = [], []
        passing = numbers_exact = names_exact = 0
        misses = []
        for i, (sample, path) in enumerate(fronts):
            if i % 2 == 0:
                t0 = time.perf_counter()
                ocr.bare_read(path)
                bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            reading = read_id_card(path)
            found = differences(reading, **sample.truth.roster())
            checked.append(time.perf_counter() - t0)
            if i % 2 == 1:
                t0 = time.perf_counter()
                ocr.bare_read(path)
                bare.append(time.perf_counter() - t0)
            passing += not found
            numbers_exact += reading.number == sample.truth.number
            names_exact += reading.name == sample.truth.name
            if found:  # seeds and field names only: no names or numbers in the results
                misses.append({"seed": sample.seed, "differences": found,
                               "number_read": reading.number is not None,
                               "name_read": reading.name is not None})
        backs_recognised = sum(read_id_card(path).side == BACK for _, path in backs)
        load_after = load_average()

    count = len(fronts)
    report = {
        "command": " ".join(["bench/photos.py"] + sys.argv[1:]),
        "photos": count, "backs": len(backs), "first_seed": args.first_seed,
        "generation_seconds": round(generated_s, 1),
        "seconds_per_photo": {"cross_check": _figures(checked), "bare_rapidocr": _figures(bare),
                              "ratio": round(sum(checked) / sum(bare), 2)},
        "accuracy": {"correct_pairs_passing": round(passing / count, 3),
                     "numbers_exact": round(numbers_exact / count, 3),
                     "names_exact": round(names_exact / count, 3),
                     "backs_recognised": round(backs_recognised / len(backs), 3) if backs else None},
        "misses": misses,
        "load_average_before": load_before, "load_average_after": load_after,
    }
    times = report["seconds_per_photo"]
    print(f"{count} fronts, {len(backs)} backs generated in {report['generation_seconds']} s "
          f"(not timed)")
    print(f"{'seconds per photo':<22}{'p50':>8}{'p95':>8}{'mean':>8}{'total':>9}")
    for key, label in (("cross_check", "read + differences"), ("bare_rapidocr", "bare RapidOCR")):
        row = times[key]
        print(f"{label:<22}{row['p50']:>8}{row['p95']:>8}{row['mean']:>8}{row['total']:>9}")
    print(f"ratio (total cross-check / total bare): {times['ratio']}x")
    accuracy = report["accuracy"]
    backs_text = "-" if not backs else f"{accuracy['backs_recognised']:.1%}"
    print(f"correct pairs passing {accuracy['correct_pairs_passing']:.1%}, numbers exact "
          f"{accuracy['numbers_exact']:.1%}, names exact {accuracy['names_exact']:.1%}, "
          f"backs recognised {backs_text}")
    print(f"load average {load_before} -> {load_after}")
    out = ROOT / "bench" / "results" / "photos.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
