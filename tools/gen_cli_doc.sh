#!/bin/bash
# Regenerates the --help sections at the end of docs/cli.md (after the "generated" marker) from the
# built binary. Usage: tools/gen_cli_doc.sh [BUILD]
set -e
Z=${1:-build}/zfviz
doc=docs/cli.md
marker='<!-- generated: tools/gen_cli_doc.sh -->'
head=$(awk -v m="$marker" '{ print } $0 == m { exit }' "$doc")
{
  printf '%s\n' "$head"
  for c in export deconv view eval occlude report train topk evolve; do
    "$Z" help | grep -q "^  $c " || continue
    printf '\n## `zfviz %s`\n\n```\n' "$c"
    "$Z" "$c" --help
    printf '```\n'
  done
} > "$doc.tmp"
mv "$doc.tmp" "$doc"
