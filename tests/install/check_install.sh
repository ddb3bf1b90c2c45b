#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR, then, using only the installed files and the generated
# hugo-journal.pc:
#   - the .pc file requires nothing (the library's own dependencies are linked into it),
#   - every public header compiles on its own,
#   - the README's "Using the library" program (the first ```cpp block of README.md, taken from
#     the README itself) compiles with exactly `c++ prog.cpp $(pkg-config --cflags --libs
#     hugo-journal)` and runs,
#   - the public-API program compiles and runs.
# `c++` is whichever is first on PATH (the sanitizer stages of scripts/test.sh put one there
# that adds their -fsanitize flags). Only the runs get LD_LIBRARY_PATH, for the scratch prefix.
set -euo pipefail
build_dir="$(realpath "$1")"
source_dir="$(realpath "$2")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
meson install -C "$build_dir" --destdir "$scratch" --quiet >/dev/null
prefix="$(meson introspect "$build_dir" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')"
root="$scratch$prefix"
pcfile="$(find "$root" -name hugo-journal.pc | head -n1)"
[ -n "$pcfile" ] || { echo "hugo-journal.pc was not installed"; exit 1; }
libdir="$(dirname "$(find "$root" -name 'libhugo-journal.so' | head -n1)")"
# Point the .pc file's prefix at the scratch tree.
sed -i "s|^prefix=.*|prefix=$root|" "$pcfile"
export PKG_CONFIG_PATH="$(dirname "$pcfile")"

requires="$(pkg-config --print-requires --print-requires-private hugo-journal)"
[ -z "$requires" ] || { echo "hugo-journal.pc requires packages a user does not need: $requires"; exit 1; }

cflags="$(pkg-config --cflags hugo-journal)"
for header in "$root"/include/hugo/*.hpp; do
  name="$(basename "$header")"
  printf '#include <hugo/%s>\n' "$name" > "$scratch/one.cpp"
  # shellcheck disable=SC2086 # cflags is a list of flags
  c++ -Wall -Wextra -Werror -fsyntax-only $cflags "$scratch/one.cpp" \
    || { echo "header hugo/$name does not stand alone"; exit 1; }
done

# The README's program, compiled and run as a reader of the README would.
mkdir "$scratch/readme"
python3 - "$source_dir/README.md" "$scratch/readme/prog.cpp" <<'EOF'
import re, sys
blocks = re.findall(r"^```cpp\n(.*?)^```", open(sys.argv[1], encoding="utf-8").read(), re.M | re.S)
if not blocks:
    sys.exit("README.md has no ```cpp block")
open(sys.argv[2], "w", encoding="utf-8").write(blocks[0])
EOF
(
  cd "$scratch/readme"
  c++ prog.cpp $(pkg-config --cflags --libs hugo-journal) \
    || { echo "the README's program does not build with c++ prog.cpp \$(pkg-config --cflags --libs hugo-journal)"; exit 1; }
  LD_LIBRARY_PATH="$libdir" ./a.out || { echo "the README's program failed"; exit 1; }
)

# shellcheck disable=SC2046 # pkg-config prints a list of flags
c++ -Wall -Wextra -Werror "$source_dir/tests/public_api/public_api_test.cpp" -o "$scratch/public_api" \
  $(pkg-config --cflags --libs hugo-journal)
LD_LIBRARY_PATH="$libdir" "$scratch/public_api"
echo "installed headers: ok ($(ls "$root"/include/hugo/*.hpp | wc -l) headers), README program: ok"
