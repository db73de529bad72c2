"""Assemble the Hugging Face Space: the project's tracked code plus this folder's files, in one self-contained folder.

python spaces/assemble.py build/space     # what `make space` runs
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("app.py", "modules", "evals")  # what the app needs at run time; tests, benchmarks and docs stay home
SPACE_FILES = ("README.md", "requirements.txt", "space_app.py")


def tracked(paths: tuple[str, ...]) -> list[str]:
    """Files under `paths` that git tracks or would track (nothing ignored: no caches, no local data)."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths]
    listed = subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def assemble(target: Path) -> list[str]:
    """Write the Space folder at `target` (replacing it); returns the files written, relative to it."""
    if target.resolve() == ROOT or ROOT.is_relative_to(target.resolve()):
        raise ValueError(f"refusing to replace {target}: it holds the project")
    shutil.rmtree(target, ignore_errors=True)
    written = []
    for name in tracked(CODE):
        if (ROOT / name).is_file():  # a tracked file deleted in the working tree is not shipped
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
            written.append(name)
    for name in SPACE_FILES:
        shutil.copy2(ROOT / "spaces" / name, target / name)
        written.append(name)
    return written


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "build/space")
    files = assemble(folder)
    size = sum((folder / name).stat().st_size for name in files)
    print(f"{folder}: {len(files)} files, {size / 2**20:.1f} MB. Push it with: "
          f"hf upload YOUR_NAME/llm-technique-lab {folder} . --repo-type space   (token: HF_TOKEN)")  # fmt: skip
