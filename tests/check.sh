#!/usr/bin/env bash
# The project's one gate, the same locally and in CI: format, lint, types, tests.
# On a fresh machine it needs only Python 3.11+: it makes .venv and installs everything into it.
# Extra arguments go to pytest (e.g. `bash tests/check.sh -k modbus -x`). Tests run in
# HSE_TEST_WORKERS processes (default 3: most of their time is waiting on sockets and child
# processes, so three workers finish in about 60 % of the serial time on two cores; 0 = serial).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.hse-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[all,dev]'
    echo "$want" > "$stamp"
fi

echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== ruff check";          .venv/bin/ruff check .
echo "== mypy";                .venv/bin/mypy protocols device_profiles simulators edge_agent central
echo "== pytest";              .venv/bin/python -m pytest -n "${HSE_TEST_WORKERS:-3}" "$@"
