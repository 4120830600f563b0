# Sourced by demo.sh and test.sh: the project's virtual environment in .venv, with the
# extra named by $1 installed (editable), and its bin/ first on PATH.
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11 or newer is needed (set PYTHON=...)" >&2; exit 2; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"
export PATH="$PWD/.venv/bin:$PATH"
