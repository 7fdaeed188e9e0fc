"""Finding fsrlab documents under a directory and sorting them by kind."""
import json
import os

from . import keys

MAX_JSON_BYTES = 64 << 20  # larger .json files are not result documents; skip them


class Documents:
    def __init__(self):
        self.analyses = []           # (path, doc)
        self.suites = []             # (path, doc)
        self.sample_complexity = []  # (path, doc)
        self.trainings = []          # (path of metrics.jsonl, [records], result doc or None, config or None)
        self.image_structures = []   # (path, doc)
        self.skipped = []            # (path, why)

    def empty(self):
        return not (self.analyses or self.suites or self.sample_complexity or self.trainings
                    or self.image_structures)


def _load_json(path):
    if os.path.getsize(path) > MAX_JSON_BYTES:
        return None
    with open(path) as f:
        return json.load(f)


def load_jsonl(path):
    records = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                # A run killed mid-write can leave a partial last line: keep what parses.
                continue
            if isinstance(rec, dict):
                records.append(rec)
    return records


def find(root, exclude=()):
    """Walks ROOT recursively (sorted, so the report is deterministic)."""
    docs = Documents()
    exclude = {os.path.realpath(e) for e in exclude}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if os.path.realpath(os.path.join(dirpath, d)) not in exclude
                             and not d.startswith("."))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name in keys.METRICS_FILES:
                records = load_jsonl(path)
                if records:
                    result = _sibling(dirpath, "result.json")
                    config = _sibling(dirpath, "config.json")
                    docs.trainings.append((path, records, result, config))
                else:
                    docs.skipped.append((path, "no JSON records"))
                continue
            if not name.endswith(".json"):
                continue
            try:
                doc = _load_json(path)
            except (OSError, ValueError) as e:
                docs.skipped.append((path, f"unreadable: {e}"))
                continue
            kind = doc.get("kind") if isinstance(doc, dict) else None
            if kind == keys.KIND_ANALYZE:
                docs.analyses.append((path, doc))
            elif kind in keys.KIND_SUITE_SUMMARY:
                docs.suites.append((path, doc))
            elif kind in keys.KIND_SAMPLE_COMPLEXITY:
                docs.sample_complexity.append((path, doc))
            elif kind == keys.KIND_IMAGE_STRUCTURE:
                docs.image_structures.append((path, doc))
    return docs


def _sibling(dirpath, name):
    p = os.path.join(dirpath, name)
    try:
        return _load_json(p) if os.path.isfile(p) else None
    except (OSError, ValueError):
        return None


def resolve(path, doc_path):
    """A path named by a document: as written if it exists, else relative to the document's
    folder, else its last components under that folder (so a moved result tree still works)."""
    if not path:
        return None
    if os.path.exists(path):
        return path
    base = os.path.dirname(os.path.abspath(doc_path))
    parts = [p for p in os.path.normpath(path).split(os.sep) if p]
    # Relative to the document's folder and its parents (an analysis.json inside RUN/ naming
    # a sibling target), with the path's last 1..4 components (a moved or copied result tree).
    for _ in range(4):
        for k in [len(parts)] + list(range(min(len(parts), 4), 0, -1)):
            cand = os.path.join(base, *parts[-k:])
            if os.path.exists(cand):
                return cand
        parent = os.path.dirname(base)
        if parent == base:
            break
        base = parent
    return None


def slug(path, root):
    """A short file-name-safe label of a document, from its path relative to ROOT."""
    rel = os.path.relpath(os.path.dirname(os.path.abspath(path)), os.path.abspath(root))
    base = os.path.splitext(os.path.basename(path))[0]
    s = base if rel in (".", "") else f"{rel}_{base}"
    out = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in s)
    return out.strip("_")[-80:] or "doc"


def get_path(obj, dotted, default=None):
    """obj["a"]["b"] for "a.b"; a key holding the whole dotted string is tried first."""
    if isinstance(obj, dict) and dotted in obj:
        return obj[dotted]
    cur = obj
    for part in dotted.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur
