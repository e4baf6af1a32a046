#!/usr/bin/python3
"""Headless execution of notebooks with the project-local tslab kernel (used by `npm run notebooks`).

Usage: /usr/bin/python3 jupyter/run_notebooks.py --out-dir DIR [--timeout S] [--kernel NAME] NB.ipynb...

For each notebook: executes every code cell in order with nbclient (stopping at the first error),
writes the executed copy (also when it failed, so the error output can be inspected) to
DIR/<name>.ipynb, signs it as trusted in the notary database of JUPYTER_DATA_DIR (so classic
Notebook runs its figure scripts), and prints one status line. Exits 1 if any notebook failed,
naming the notebook and the cell; 2 on bad usage.

The caller sets JUPYTER_PATH / JUPYTER_DATA_DIR (project-local) and BNN_PROFILE in the environment;
the kernel inherits them.
"""
import argparse
import datetime
import os
import sys
import time

try:
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write(
        "run_notebooks: %s. Install Debian's packages: sudo apt-get install jupyter-notebook "
        "jupyter-nbconvert python3-nbclient (or set BNN_PYTHON to a Python with nbclient).\n" % e
    )
    sys.exit(3)


def cell_text(cell, limit=6):
    lines = cell.get("source", "").splitlines()
    head = "\n".join("    " + l for l in lines[:limit])
    if len(lines) > limit:
        head += "\n    ..."
    return head


def error_text(cell, limit=25):
    """The cell's error: tslab reports errors (compile errors, exceptions) on stderr, not as 'error' outputs."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            parts.append("%s: %s" % (out.get("ename", "Error"), out.get("evalue", "")))
            parts.extend(out.get("traceback", []))
        elif out.get("output_type") == "stream" and out.get("name") == "stderr":
            parts.append(out.get("text", ""))
    lines = "".join(p if p.endswith("\n") else p + "\n" for p in parts).rstrip("\n").splitlines()
    if len(lines) > limit:
        lines = lines[:limit] + ["... (%d more lines in the executed notebook)" % (len(lines) - limit)]
    return "\n".join("    " + l for l in lines) if lines else "    (no error output)"


def run_one(path, out_dir, timeout, kernel, cwd, notary):
    name = os.path.basename(path)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "TypeScript (tslab, bop-reproduction)", "language": "typescript"}
    state = {"index": None}

    def on_cell_execute(cell, cell_index, **kw):
        state["index"] = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=False,
        record_timing=True,
        startup_timeout=120,
        resources={"metadata": {"path": cwd}},
        on_cell_execute=on_cell_execute,
    )
    t0 = time.time()
    failure = None
    try:
        client.execute()
    except Exception as e:  # CellExecutionError, CellTimeoutError, DeadKernelError, ...
        failure = e
    seconds = time.time() - t0
    nb.metadata["bnn"] = {
        "profile": os.environ.get("BNN_PROFILE", ""),
        "executed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "source": os.path.relpath(path, cwd),
        "ok": failure is None,
    }
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, name)
    nbformat.write(nb, out)
    # Sign what is on disk, exactly as Jupyter will read it.
    notary.sign(nbformat.read(out, as_version=4))
    size = os.path.getsize(out)
    rel_out = os.path.relpath(out, cwd)
    if failure is None:
        print("ok   %s  %.1fs  -> %s (%.1f kB)" % (os.path.relpath(path, cwd), seconds, rel_out, size / 1024.0), flush=True)
        return None
    idx = state["index"]
    kind = type(failure).__name__
    if idx is None:
        last = (str(failure).strip().splitlines() or [""])[-1]
        msg = "FAIL %s: %s before any cell ran: %s" % (path, kind, last)
    else:
        cell = nb.cells[idx]
        code_no = sum(1 for c in nb.cells[: idx + 1] if c.cell_type == "code")
        reason = "timed out" if "Timeout" in kind else ("kernel died" if "Dead" in kind else "raised an error")
        msg = "FAIL %s: cell %d (code cell %d) %s after %.1fs:\n%s\n  error:\n%s\n  executed copy with outputs: %s" % (
            os.path.relpath(path, cwd), idx + 1, code_no, reason, seconds, cell_text(cell), error_text(cell), rel_out)
    print(msg, flush=True)
    return msg


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--timeout", type=int, default=-1, help="seconds per cell; <= 0 means no limit")
    ap.add_argument("--kernel", default="tslab-bnn")
    ap.add_argument("--cwd", default=os.getcwd(), help="project root (kernel working dir)")
    ap.add_argument("--keep-going", action="store_true", help="run the remaining notebooks after a failure")
    ap.add_argument("notebooks", nargs="+")
    a = ap.parse_args(argv)
    notary = NotebookNotary()
    failures = []
    for nb in a.notebooks:
        if not os.path.isfile(nb):
            print("FAIL %s: no such notebook" % nb, flush=True)
            return 2
        msg = run_one(nb, a.out_dir, None if a.timeout <= 0 else a.timeout, a.kernel, a.cwd, notary)
        if msg:
            failures.append(msg)
            if not a.keep_going:
                break
    if failures:
        print("%d notebook(s) failed." % len(failures), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
