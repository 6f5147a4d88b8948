# Shared by scripts/serve and scripts/test: a project virtualenv in .venv, reinstalled when
# pyproject.toml changes. $1 is the extras to install ("" or "[test]").
ensure_venv() {
    local extras="$1"
    local stamp=".venv/.installed${extras}"
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
        .venv/bin/python -m pip install --quiet -e ".${extras}"
        echo "$want" > "$stamp"
    fi
}
