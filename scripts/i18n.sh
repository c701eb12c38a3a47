#!/usr/bin/env bash
# The translation catalogues: extract every marked message (babel.cfg) into a template per domain and merge it
# into the Chinese PO files, which are then translated by hand (a new message comes in with an empty msgstr;
# tests/test_i18n.py lists what is missing). The app reads the PO files themselves: nothing to compile.
#
#   scripts/i18n.sh            extract and update studio/locale/zh/LC_MESSAGES/{studio,lessons}.po
#
# Domains and their markers (studio/i18n.py KEYWORDS): "studio" _ and N_; "lessons" lesson_text and N_lesson.
# Locations are file names without line numbers, so an edit elsewhere in a file leaves the PO files alone.
set -euo pipefail
cd "$(dirname "$0")/.."   # babel.cfg's extraction method for studio/main.py is imported from here (PYTHONPATH=.)
# Babel (requirements.txt): the project's virtualenv's, else the one on PATH
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
[ -x "$PYBABEL" ] || PYBABEL=pybabel
LOCALE=studio/locale
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

extract() {  # domain, keywords...
  local domain=$1; shift
  local keywords=()
  for k in "$@"; do keywords+=(-k "$k"); done
  PYTHONPATH=. "$PYBABEL" extract -F babel.cfg --no-default-keywords "${keywords[@]}" --sort-by-file --no-wrap --add-location=file \
    --project "GAN Studio" --copyright-holder "GAN Studio" -o "$tmp/$domain.pot" .
  local po="$LOCALE/zh/LC_MESSAGES/$domain.po"
  if [ -f "$po" ]; then
    "$PYBABEL" update -D "$domain" -i "$tmp/$domain.pot" -o "$po" -l zh --no-wrap --ignore-obsolete
  else
    "$PYBABEL" init -D "$domain" -i "$tmp/$domain.pot" -o "$po" -l zh --no-wrap
  fi
}

extract studio _ N_
# the Lessons catalogue belongs to the course's text: updated only where the course exists
if [ -f "$LOCALE/zh/LC_MESSAGES/lessons.po" ] || grep -rqs "lesson_text(" studio --include=*.py --exclude=i18n.py; then
  extract lessons lesson_text N_lesson
fi
