#!/bin/bash
# t_occlude_cli.sh: `zfviz occlude` and `zfviz report` end to end on a LeNet export and the sample
# images: usage errors (exit 2, one line), every output file per image, a corrupt image recorded and
# skipped, --tensor inputs, resume (a rerun skips finished images), kill -9 midway then restart
# (every image exactly once, no temporary file left), --shard K/N (disjoint, complete) merged by
# `zfviz report`, --jobs 2, and the HTML report in headless Chromium (one gallery entry per image,
# the corrupt one in the errors section; screenshot saved under BUILD/test-output/).
# Needs ZF_BIN (tests/run.sh sets it). Chromium checks are skipped (with a notice) when it is missing;
# the whole test exits 77 only when the binary is missing.
BIN=${ZF_BIN:-build/zfviz}
OUTDIR=${ZF_BUILD:-build}/test-output
if [ ! -x "$BIN" ]; then echo "skip: no zfviz binary at $BIN"; exit 77; fi
T=$(mktemp -d /tmp/zf-t-occlude-XXXXXX) || exit 1
trap 'kill -9 $bg 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
mkdir -p "$OUTDIR"

"$BIN" export --arch lenet --seed 1 -o "$T/lenet.onnx" >/dev/null || { echo "FAIL: export"; exit 1; }

# Inputs: the ten samples in two folders, one corrupt "image", a list file.
mkdir -p "$T/in/a" "$T/in/b/deep"
i=0
for f in assets/samples/*.png; do
  if [ $((i % 2)) = 0 ]; then cp "$f" "$T/in/a/"; else cp "$f" "$T/in/b/deep/"; fi
  i=$((i + 1))
done
printf 'this is not a PNG' >"$T/in/a/broken.png"
n_ok=10; n_all=11

# --- usage errors -----------------------------------------------------------------------------------
expect2() {
  local needle=$1; shift
  "$BIN" "$@" >"$T/o" 2>"$T/e"; local rc=$?
  [ $rc -eq 2 ] || fail "zfviz $*: exit $rc, expected 2"
  grep -q -- "$needle" "$T/e" || fail "zfviz $*: stderr lacks '$needle': $(head -1 "$T/e")"
}
expect2 "--patch" occlude "$T/lenet.onnx" "$T/in" --patch 0
expect2 "--shard" occlude "$T/lenet.onnx" "$T/in" --shard 3/2
expect2 "--shard" occlude "$T/lenet.onnx" "$T/in" --shard 0/2
expect2 "--fill" occlude "$T/lenet.onnx" "$T/in" --fill purple
expect2 "unknown flag" occlude "$T/lenet.onnx" "$T/in" --bogus
expect2 "missing IMAGE" occlude "$T/lenet.onnx"
expect2 "missing.onnx" occlude "$T/missing.onnx" "$T/in" -o "$T/x"
[ "$(wc -l <"$T/e")" -eq 1 ] || fail "a missing model should give one line of error"
expect2 "--target" occlude "$T/lenet.onnx" "$T/in/a" -o "$T/x" --target NoSuchClass --quiet
expect2 "no tensor or node" occlude "$T/lenet.onnx" "$T/in/a" -o "$T/x" --layer nosuch --quiet
expect2 "no zfviz records" report "$T/in/a"
"$BIN" occlude --help | grep -q "Captum" || fail "occlude --help"
"$BIN" report --help | grep -q "shard" || fail "report --help"

# --- the plan ---------------------------------------------------------------------------------------------
"$BIN" occlude "$T/lenet.onnx" --explain >"$T/o" 2>"$T/e" || fail "--explain failed: $(cat "$T/e")"
grep -q "conv1 .*box-kernel *box 8x8 of 24x24" "$T/o" && grep -q "fc3 .*batched" "$T/o" ||
  fail "--explain: unexpected plan: $(cat "$T/o")"

# --- a batch with a report ---------------------------------------------------------------------------
"$BIN" occlude "$T/lenet.onnx" "$T/in" -o "$T/out" --report --layer conv2 --quiet 2>"$T/e"
rc=$?
[ $rc -eq 2 ] || fail "a batch with a corrupt image should exit 2 (got $rc)"
[ "$(ls "$T/out"/*.json | grep -vc summary)" -eq $n_all ] || fail "expected $n_all records: $(ls "$T/out")"
for f in "$T/out"/*.json; do
  case $f in */summary.json) continue;; esac
  id=$(basename "$f" .json)
  if grep -q '"error"' "$f"; then
    [ "$id" = a_broken ] || fail "$id: unexpected error record: $(cat "$f")"
    continue
  fi
  for suffix in heatmap.png labels.png unit.png input.png prob.pb logit.pb unit.pb labels.pb; do
    [ -s "$T/out/$id.$suffix" ] || fail "$id: missing $id.$suffix"
  done
done
grep -q '"error": ".*broken.png' "$T/out/a_broken.json" || fail "the corrupt image's record does not name it"
for f in index.html summary.csv summary.json; do [ -s "$T/out/$f" ] || fail "missing $f"; done
[ "$(tail -n +2 "$T/out/summary.csv" | wc -l)" -eq $n_all ] || fail "summary.csv should have $n_all rows"
[ "$(grep -c ',ok,' "$T/out/summary.csv")" -eq $n_ok ] || fail "summary.csv should have $n_ok ok rows"
grep -q 'src="http\|href="http\|src="//' "$T/out/index.html" && fail "index.html references external resources"
[ "$(grep -o 'data:image/png;base64' "$T/out/index.html" | wc -l)" -ge $((2 * n_ok)) ] ||
  fail "index.html should embed two thumbnails per image"
# Raw map: a (28,28) TensorProto (8 bytes header or so + 784 floats).
sz=$(stat -c %s "$T/out/b_deep_3-dress-test13.prob.pb")
[ "$sz" -gt 3136 ] && [ "$sz" -lt 3300 ] || fail "prob.pb has $sz bytes, expected a 28x28 float tensor"

# --- resume: the same command again skips everything that is done ------------------------------------
t_before=$(stat -c %Y.%N "$T/out/b_deep_3-dress-test13.json" 2>/dev/null || stat -c %Y "$T/out/b_deep_3-dress-test13.json")
sleep 1
"$BIN" occlude "$T/lenet.onnx" "$T/in" -o "$T/out" --layer conv2 2>"$T/e"
grep -q "10 already done" "$T/e" || fail "a rerun should skip the 10 finished images: $(tail -1 "$T/e")"
[ "$(stat -c %Y.%N "$T/out/b_deep_3-dress-test13.json" 2>/dev/null || stat -c %Y "$T/out/b_deep_3-dress-test13.json")" = "$t_before" ] ||
  fail "a finished record was rewritten"
# --- @list and --tensor inputs -----------------------------------------------------------------------
ls "$T/in/b/deep"/*.png >"$T/list.txt"
"$BIN" occlude "$T/lenet.onnx" @"$T/list.txt" -o "$T/fromlist" --quiet || fail "@list run failed"
[ "$(ls "$T/fromlist"/*.json | wc -l)" -eq 5 ] || fail "@list: expected 5 records"
# Different settings redo the work.
"$BIN" occlude "$T/lenet.onnx" @"$T/list.txt" -o "$T/fromlist" --patch 6 --stride 2 2>"$T/e"
grep -q "5 done, 0 already done" "$T/e" && [ "$(grep -l 'patch=6' "$T/fromlist"/*.json | wc -l)" -eq 5 ] ||
  fail "changed settings should recompute: $(tail -1 "$T/e")"
"$BIN" run "$T/lenet.onnx" assets/samples/7-sneaker-test9.png --dump "$T/dump" >/dev/null || fail "run --dump"
"$BIN" occlude "$T/lenet.onnx" --tensor "$T/dump/input.pb" --fill 0 -o "$T/tensor" --quiet || fail "--tensor run failed"
[ -s "$T/tensor/input.heatmap.png" ] || fail "--tensor: no heatmap"

# --- kill -9 midway, then restart ---------------------------------------------------------------------
mkdir -p "$T/many"
for k in $(seq 1 2); do for f in assets/samples/*.png; do cp "$f" "$T/many/k$k-$(basename "$f")"; done; done
total=$(ls "$T/many" | wc -l)
slow=(occlude "$T/lenet.onnx" "$T/many" -o "$T/killed" --naive --patch 2 --stride 1)
"$BIN" "${slow[@]}" 2>/dev/null &
bg=$!
for _ in $(seq 1 300); do
  n=$(ls "$T/killed"/*.json 2>/dev/null | wc -l)
  [ "$n" -ge 3 ] && break
  sleep 0.1
done
kill -9 $bg 2>/dev/null
wait $bg 2>/dev/null
before=$(ls "$T/killed"/*.json 2>/dev/null | wc -l)
if [ "$before" -ge "$total" ]; then
  fail "the batch finished before it could be killed ($before records); make it slower"
else
  echo "killed after $before of $total records"
  "$BIN" "${slow[@]}" 2>"$T/e" || fail "the restarted batch failed: $(tail -1 "$T/e")"
  grep -q "$before already done" "$T/e" || fail "the restart should skip the $before finished: $(tail -1 "$T/e")"
  [ "$(ls "$T/killed"/*.json | wc -l)" -eq "$total" ] || fail "after the restart: $(ls "$T/killed"/*.json | wc -l) records, expected $total"
  left=$(ls "$T/killed" | grep -c '\.tmp\.')
  [ "$left" -eq 0 ] || fail "temporary files left: $(ls "$T/killed" | grep '\.tmp\.' | head -3)"
  for f in "$T/many"/*.png; do
    id=$(basename "$f" .png)
    [ "$(grep -c "\"source\": \"$f\"" "$T/killed/$id.json")" -eq 1 ] || fail "$id: record missing or not for $f"
  done
  # Each image exactly once: one record per input and no duplicate ids.
  [ "$(ls "$T/killed"/*.json | wc -l)" -eq "$(ls "$T/many" | wc -l)" ] || fail "records and inputs differ in number"
fi

# --- shards and the merged report; --jobs ----------------------------------------------------------------
"$BIN" occlude "$T/lenet.onnx" "$T/in" -o "$T/s1" --shard 1/3 --quiet 2>/dev/null
"$BIN" occlude "$T/lenet.onnx" "$T/in" -o "$T/s2" --shard 2/3 --quiet 2>/dev/null
"$BIN" occlude "$T/lenet.onnx" "$T/in" -o "$T/s3" --shard 3/3 --quiet 2>/dev/null
ids() { for d in "$@"; do ls "$d"/*.json | grep -v summary | xargs -n1 basename; done | sort; }
[ "$(ids "$T/s1" "$T/s2" "$T/s3" | uniq -d | wc -l)" -eq 0 ] || fail "shards overlap"
[ "$(ids "$T/s1" "$T/s2" "$T/s3")" = "$(ids "$T/out")" ] || fail "shards do not cover the inputs"
"$BIN" report "$T/s1" "$T/s2" "$T/s3" -o "$T/merged" 2>"$T/e" || fail "report merge failed: $(cat "$T/e")"
[ "$(tail -n +2 "$T/merged/summary.csv" | wc -l)" -eq $n_all ] || fail "merged summary.csv should have $n_all rows"
grep -q 'href="../s1/' "$T/merged/index.html" || fail "merged report should link the shards' pictures relatively"
"$BIN" occlude "$T/lenet.onnx" "$T/in" -o "$T/jobs" --jobs 2 --quiet 2>/dev/null
[ "$(ids "$T/jobs")" = "$(ids "$T/out")" ] || fail "--jobs 2 did not process every input once"

# --- the report in a browser ---------------------------------------------------------------------------
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
  echo "notice: chromium not installed: HTML rendering checks skipped (apt-get install chromium)"
else
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --dump-dom "file://$T/merged/index.html" \
    >"$T/dom.html" 2>/dev/null || fail "chromium --dump-dom failed"
  entries=$(grep -o 'class="entry"' "$T/dom.html" | wc -l)
  [ "$entries" -eq $n_ok ] || fail "gallery has $entries entries in the browser, expected $n_ok"
  grep -q 'class="error"[^>]*data-id="a_broken"' "$T/dom.html" || fail "errors section does not list broken.png"
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1400 \
    --screenshot="$PWD/$OUTDIR/occlude-report.png" "file://$T/merged/index.html" >/dev/null 2>&1 ||
    fail "chromium --screenshot failed"
  [ -s "$OUTDIR/occlude-report.png" ] && echo "screenshot: $OUTDIR/occlude-report.png" || fail "no screenshot"
fi

if [ $fails -gt 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "occlude CLI: all checks passed"
