# Dumps an events file as retis's Python library reads it, one JSON line per event (or series):
# its to_dict() (integers as text, so that 64-bit values survive JSON), its sections and its
# text. Run by `retrace python -i FILE retis-python-dump.py` (which defines `reader`), or
# standalone: python retis-python-dump.py FILE events|series|rotation (EventReader, SeriesReader,
# or EventFile.with_rotation: FILE and the files of its rotated set after it).
import json
import sys


def norm(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def event(e):
    return {"dict": norm(e.to_dict()), "sections": sorted(e.sections()), "text": str(e)}


if "reader" in globals():
    if reader.sorted():
        lines = ({"series": [event(e) for e in s], "len": len(s)} for s in reader.series())
    else:
        lines = (event(e) for e in reader.events())
else:
    from retis import EventFile, EventReader, SeriesReader

    path, kind = sys.argv[1], sys.argv[2]
    if kind == "rotation":
        lines = (event(e) for e in EventFile.with_rotation(path).events())
    elif kind == "series":
        lines = ({"series": [event(e) for e in s], "len": len(s)} for s in SeriesReader(path))
    else:
        lines = (event(e) for e in EventReader(path))

for line in lines:
    print(json.dumps(line))
