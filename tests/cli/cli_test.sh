#!/usr/bin/env bash
# Drives the edgeloop CLI as a user would and checks exit codes, messages and files.
set -uo pipefail
edgeloop=$1
root=$2
work=$(mktemp -d)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
fails=0; passes=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passes=$((passes + 1)); else echo "FAIL $name"; fails=$((fails + 1)); fi
}

onnx="$root/examples/fashion_mnist/fashion_cnn.onnx"

# import → inspect → verify → run
"$edgeloop" model import "$onnx" -o "$work/m.edge" --name fashion --version 7 > "$work/import.txt" 2>&1
check "import succeeds" test $? -eq 0
check "import writes the artifact" test -s "$work/m.edge"
"$edgeloop" model inspect "$work/m.edge" --json > "$work/inspect.json"
check "inspect --json has name and version" grep -q '"version": "7"' "$work/inspect.json"
check "inspect reports the arena" grep -q '"arena_bytes"' "$work/inspect.json"
"$edgeloop" model verify "$work/m.edge" > /dev/null
check "verify passes the golden vector" test $? -eq 0

# bench: init, latency, memory and profile of the imported CNN (no timing thresholds)
"$edgeloop" bench "$work/m.edge" --runs 5 --warmup 1 --profile --json > "$work/bench.json" 2> "$work/bench_err.txt"
check "bench succeeds" test $? -eq 0
bench_keys() {  # the JSON parses and has every key of docs/benchmarks.md with sane values
  if command -v python3 > /dev/null; then
    python3 - "$work/bench.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
keys = ["model", "variant", "file_bytes", "threads", "backends", "init_ms", "latency_ms", "runs", "warmup",
        "throughput_per_s", "arena_bytes", "peak_rss_bytes", "golden", "profile"]
assert all(k in j for k in keys), [k for k in keys if k not in j]
assert set(j["init_ms"]) == {"load_verify", "prepare", "total"}
assert set(j["latency_ms"]) == {"min", "p50", "p95", "p99", "mean"}
assert 0 < j["latency_ms"]["min"] <= j["latency_ms"]["p50"] <= j["latency_ms"]["p99"]
assert j["runs"] == 5 and j["warmup"] == 1 and j["golden"] == "match" and j["backends"]
assert j["throughput_per_s"] > 0 and j["arena_bytes"] > 0 and j["peak_rss_bytes"] > 0
assert j["profile"] and all(set(p) == {"step", "backend", "op", "mean_us", "share"} for p in j["profile"])
assert abs(sum(p["share"] for p in j["profile"]) - 1) < 1e-6
PY
  else
    for k in model variant file_bytes threads backends init_ms load_verify prepare latency_ms p50 p95 p99 runs warmup \
      throughput_per_s arena_bytes peak_rss_bytes golden profile mean_us share; do
      grep -q "\"$k\"" "$work/bench.json" || return 1
    done
  fi
}
check "bench --json parses and has every key" bench_keys
check "bench checks the golden vector" grep -q '"golden": "match"' "$work/bench.json"
"$edgeloop" bench "$work/m.edge" --runs 3 --warmup 0 > "$work/bench.txt" 2>&1
check "bench prints a summary with percentiles" grep -q "p50 .* p95 .* p99" "$work/bench.txt"
"$edgeloop" bench "$work/m.edge" --runs 0 > "$work/bench0.txt" 2>&1
check "bench --runs 0 is refused" test $? -ne 0
check "the refusal names --runs" grep -q -- "--runs" "$work/bench0.txt"
"$edgeloop" bench "$work/m.edge" --threads 0 > "$work/bench0.txt" 2>&1
check "bench --threads 0 is refused" test $? -ne 0
"$edgeloop" bench "$work/m.edge" --runs 2 --backends no-such-backend > "$work/bench0.txt" 2>&1
check "bench refuses an unknown backend by name" grep -q "no-such-backend" "$work/bench0.txt"
"$edgeloop" bench --help > "$work/bench_help.txt" 2>&1
check "bench --help explains the flags" grep -q -- "--warmup" "$work/bench_help.txt"

# backends: chosen from the CPU by default, forced by flag, unknown names refused
"$edgeloop" model inspect "$work/m.edge" > "$work/inspect_default.txt" 2>&1
check "inspect says which backends run the model" grep -q "backends  .*xnnpack" "$work/inspect_default.txt"
"$edgeloop" model inspect "$work/m.edge" --backends reference > "$work/inspect_ref.txt" 2>&1
check "--backends reference runs every node on the reference kernels" grep -q "backends  reference (" "$work/inspect_ref.txt"
"$edgeloop" model verify "$work/m.edge" --backends xnnpack --threads 2 > /dev/null 2>&1
check "verify passes with XNNPACK forced at 2 threads" test $? -eq 0
"$edgeloop" model verify "$work/m.edge" --backends no-such-backend > "$work/verify_bad.txt" 2>&1
check "verify refuses an unknown backend" test $? -ne 0
check "the refusal lists the known backends" grep -q "known: x86, xnnpack, reference" "$work/verify_bad.txt"

# a corrupt artifact: clear error, non-zero exit
head -c 1000 "$work/m.edge" > "$work/cut.edge"
"$edgeloop" model inspect "$work/cut.edge" > "$work/cut.txt" 2>&1
check "truncated artifact is refused" test $? -ne 0
check "truncated artifact error names the problem" grep -q "truncated" "$work/cut.txt"

# a bad ONNX file: clear error, nothing written
printf 'not a model' > "$work/bad.onnx"
"$edgeloop" model import "$work/bad.onnx" -o "$work/bad.edge" > "$work/bad.txt" 2>&1
check "garbage ONNX is refused" test $? -ne 0
check "refused import writes nothing" test ! -e "$work/bad.edge"
check "no temporary files are left behind" test -z "$(ls -A "$work" | grep -v -E '^(m|cut)\.edge$|\.(txt|json|onnx|npy)$|^out$')"

# run with .npy in and out
"$edgeloop" model eval "$work/m.edge" --limit 20 --json > "$work/eval.json"
check "eval --json reports top1" grep -q '"top1"' "$work/eval.json"
check "eval of 20 images counts 20" grep -q '"images": 20' "$work/eval.json"

# a zero image as .npy (header padded to 128 bytes as NumPy writes it), run, one .npy per output
header="{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }"
{ printf '\x93NUMPY\x01\x00\x76\x00%-117s\n' "$header"; head -c 3136 /dev/zero; } > "$work/zero.npy"
"$edgeloop" model run "$work/m.edge" --input "input=$work/zero.npy" --output-dir "$work/out" --json > "$work/run.json"
check "run writes one .npy per output" test "$(stat -c %s "$work/out/logits.npy" 2>/dev/null)" = 168
"$edgeloop" model run "$work/m.edge" --input "$work/zero.npy" --input "other=$work/zero.npy" --output-dir "$work/out2" > "$work/run2.txt" 2>&1
check "too many inputs is refused" test $? -ne 0

"$edgeloop" model run "$work/m.edge" --input "$work/missing.npy" --output-dir "$work/out" > "$work/run.txt" 2>&1
check "missing input file is a clear error" grep -q "missing.npy" "$work/run.txt"

# quantize: int8 needs calibration; the result verifies; bad input writes nothing
"$edgeloop" model quantize "$work/m.edge" --scheme int8 -o "$work/q.edge" > "$work/q.txt" 2>&1
check "int8 without --calib is refused" test $? -ne 0
check "the refusal says what calibration data to give" grep -q "needs calibration data" "$work/q.txt"
"$edgeloop" model quantize "$work/m.edge" --scheme int8 --calib fashion-mnist:train:20 -o "$work/int8.edge" --json > "$work/int8.json" 2>&1
check "int8 quantize succeeds" test $? -eq 0
check "int8 report lists the fused activations" grep -q '"fused"' "$work/int8.json"
"$edgeloop" model verify "$work/int8.edge" > /dev/null
check "the int8 artifact passes its own golden vector" test $? -eq 0
"$edgeloop" model quantize "$work/int8.edge" --scheme w4a8 --calib fashion-mnist:train:20 -o "$work/twice.edge" > "$work/twice.txt" 2>&1
check "an already quantized artifact is refused" grep -q "already a quantized variant" "$work/twice.txt"
check "the refusal writes nothing" test ! -e "$work/twice.edge"
mkdir -p "$work/calib"
header="{'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28), }"
{ printf '\x93NUMPY\x01\x00\x76\x00%-117s\n' "$header"; head -c 3136 /dev/zero; } > "$work/calib/a.npy"
"$edgeloop" model quantize "$work/m.edge" --scheme int8 --calib "$work/calib" -o "$work/shape.edge" > "$work/shape.txt" 2>&1
check "calibration data of the wrong shape is refused" grep -q "must be f32 \[1,1,28,28\]" "$work/shape.txt"
check "wrong calibration data writes nothing" test ! -e "$work/shape.edge"
"$edgeloop" model quantize "$work/m.edge" --scheme int8 --calib random:0 -o "$work/empty.edge" > "$work/empty.txt" 2>&1
check "an empty calibration set is refused" test $? -ne 0 -a ! -e "$work/empty.edge"
"$edgeloop" model quantize "$work/m.edge" --scheme mixed --calib fashion-mnist:train:20 -o "$work/mixed.edge" > "$work/mixed.txt" 2>&1
check "mixed without a floor is refused" grep -q "needs an accuracy floor" "$work/mixed.txt"
"$edgeloop" model quantize "$work/m.edge" --scheme int8 --calib fashion-mnist:train:20 --eval fashion-mnist:test:60 \
  --floor 0.999 -o "$work/floor.edge" > "$work/floor.txt" 2>&1
check "a floor above FP32 is refused with FP32's accuracy" grep -q "the FP32 model itself reaches" "$work/floor.txt"
# Calibrating on two random inputs with a 60th-percentile range clips nearly everything.
"$edgeloop" model quantize "$work/m.edge" --scheme w4a8 --calib random:2 --range percentile --percentile 60 \
  --eval fashion-mnist:test:60 --max-drop 0 -o "$work/floor.edge" > "$work/floor.txt" 2>&1
check "a floor the variant misses is refused" test $? -ne 0 -a ! -e "$work/floor.edge"
check "the refusal names the most sensitive layers" grep -q "most sensitive layers: /" "$work/floor.txt"

# variants: the matrix and its tier table
"$edgeloop" model variants "$work/m.edge" --calib fashion-mnist:train:20 --eval fashion-mnist:test:60 --schemes fp32,int8,w4a8 \
  --out-dir "$work/variants" > "$work/variants.txt" 2>&1
check "variants succeeds" test $? -eq 0
check "variants writes variants.json and one artifact per variant" test -s "$work/variants/variants.json" -a -s "$work/variants/w4a8.edge"
check "variants prints the matrix" grep -q "| int8 |" "$work/variants.txt"
"$edgeloop" model variants "$work/m.edge" --calib fashion-mnist:train:20 --eval fashion-mnist:test:60 --schemes fp32,int8 \
  --out-dir "$work/variants" > "$work/again.txt" 2>&1
check "variants refuses a non-empty output folder" grep -q "is not empty" "$work/again.txt"

# keys: generate and show, plain and encrypted; 0600; never overwritten; garbage refused
keys="$work/keys"
mkdir -p "$keys"
"$edgeloop" keys generate "$keys/root.key" --comment "root key 1" > "$keys/gen.txt" 2>&1
check "keys generate succeeds" test $? -eq 0
keyid=$(sed -n 's/^  key id  \([0-9a-f]\{64\}\)$/\1/p' "$keys/gen.txt")
check "keys generate prints the key id" test -n "$keyid"
check "keys generate warns that the secret is not encrypted" grep -q "NOT encrypted" "$keys/gen.txt"
check "a key file is mode 0600" test "$(stat -c %a "$keys/root.key")" = 600
"$edgeloop" keys show "$keys/root.key" > "$keys/show.txt" 2>&1
check "keys show succeeds" test $? -eq 0
check "keys show gives the same key id" grep -q "key id     $keyid" "$keys/show.txt"
check "keys show says the file is not encrypted" grep -q "encrypted  no" "$keys/show.txt"
check "keys show prints the comment" grep -q "comment    root key 1" "$keys/show.txt"
secret=$(sed -n 's/.*"secret": "\([0-9a-f]*\)".*/\1/p' "$keys/root.key")
"$edgeloop" keys show "$keys/root.key" --json > "$keys/show.json" 2>&1
no_secret_shown() {  # the file's seed (first half of "secret") appears in neither output
  test ${#secret} -eq 128 && ! grep -q -e "${secret:0:64}" -e '"secret"' "$keys/show.txt" "$keys/show.json"
}
check "keys show never prints the secret key" no_secret_shown
check "keys show --json has the key id" grep -q "\"keyid\": \"$keyid\"" "$keys/show.json"
cp "$keys/root.key" "$keys/root.before"
"$edgeloop" keys generate "$keys/root.key" > "$keys/again.txt" 2>&1
check "keys generate refuses an existing file" test $? -eq 1
check "the refusal says the file exists" grep -q "root.key already exists" "$keys/again.txt"
check "the refused file is unchanged" cmp -s "$keys/root.key" "$keys/root.before"
EDGELOOP_TEST_PASSPHRASE='correct horse' "$edgeloop" keys generate "$keys/targets.key" --passphrase-env EDGELOOP_TEST_PASSPHRASE \
  --comment targets --json > "$keys/enc.json" 2>&1
check "keys generate --passphrase-env succeeds" test $? -eq 0
check "keys generate --json says encrypted" grep -q '"encrypted": true' "$keys/enc.json"
check "an encrypted key file is mode 0600" test "$(stat -c %a "$keys/targets.key")" = 600
check "an encrypted key file holds no clear secret" test "$(grep -c '"secret"' "$keys/targets.key")" = 0
enc_id=$(sed -n 's/.*"keyid": "\([0-9a-f]\{64\}\)".*/\1/p' "$keys/enc.json")
"$edgeloop" keys show "$keys/targets.key" > "$keys/show_enc.txt" 2>&1
check "keys show needs no passphrase for an encrypted file" test $? -eq 0
check "keys show says the file is encrypted" grep -q "encrypted  yes" "$keys/show_enc.txt"
check "keys show gives the encrypted file's key id" grep -q "key id     $enc_id" "$keys/show_enc.txt"
"$edgeloop" keys generate "$keys/unset.key" --passphrase-env EDGELOOP_TEST_UNSET_VARIABLE > "$keys/unset.txt" 2>&1
check "an unset passphrase variable is refused by name" grep -q "EDGELOOP_TEST_UNSET_VARIABLE is not set" "$keys/unset.txt"
check "the refusal writes no key file" test ! -e "$keys/unset.key"
printf 'not a key file' > "$keys/garbage.key"
"$edgeloop" keys show "$keys/garbage.key" > "$keys/garbage.txt" 2>&1
check "keys show on a garbage file exits 1" test $? -eq 1
check "the garbage error names the file and the problem" grep -q "garbage.key: not an edgeloop key file" "$keys/garbage.txt"
check "keys writes no temporary files" test -z "$(ls -A "$keys" | grep -v -E '\.(key|txt|json|before)$')"
"$edgeloop" keys generate --help > "$keys/help.txt" 2>&1
check "keys generate --help explains the passphrase flags" grep -q -- "--passphrase-file" "$keys/help.txt"

# repo: init, add the variants with their tiers, rollout, status; refusals write nothing
repo="$work/repo"
"$edgeloop" repo init "$repo" --json > "$work/repo_init.json" 2> "$work/repo_init.err"
check "repo init succeeds" test $? -eq 0
check "repo init makes a 0700 keys folder" test "$(stat -c %a "$repo/keys")" = 700
check "repo init writes 0600 key files" test "$(stat -c %a "$repo/keys/root.key")" = 600 -a "$(stat -c %a "$repo/keys/rollout.key")" = 600
check "repo init writes root v1 and a timestamp" test -s "$repo/public/metadata/1.root.json" -a -s "$repo/public/metadata/timestamp.json"
check "repo init --json names the keys" grep -q '"timestamp": "[0-9a-f]\{64\}"' "$work/repo_init.json"
"$edgeloop" repo init "$repo" > "$work/repo_again.txt" 2>&1
check "repo init refuses a non-empty folder" grep -q "is not empty" "$work/repo_again.txt"
repo_tree() { find "$repo" -type f -exec sha256sum {} + | sort; }
repo_tree > "$work/repo_before.txt"
"$edgeloop" repo add "$repo" "$work/variants/int8.edge" "$work/cut.edge" > "$work/repo_bad.txt" 2>&1
check "repo add of a truncated artifact exits 1" test $? -eq 1
check "the refusal names the bad artifact" grep -q "cut.edge" "$work/repo_bad.txt"
check "a refused add writes nothing" cmp -s "$work/repo_before.txt" <(repo_tree)
"$edgeloop" repo add "$repo" "$work/variants/int8.edge" "$work/variants/fp32.edge" --tiers mid > "$work/repo_tiers.txt" 2>&1
check "--tiers with two artifacts is refused" grep -q "tiers to one artifact" "$work/repo_tiers.txt"
"$edgeloop" repo add "$repo" "$work/variants/fp32.edge" "$work/variants/int8.edge" "$work/variants/w4a8.edge" \
  --variants "$work/variants/variants.json" --json > "$work/repo_add.json" 2> "$work/repo_add.err"
check "repo add --variants succeeds" test $? -eq 0
check "repo add puts artifacts under their SHA-256" test "$(ls "$repo/public/artifacts" | grep -c '^[0-9a-f]\{64\}\.edge$')" = 3
"$edgeloop" repo rollout "$repo" --model fashion --tier mid --target 8 --percent 10 > "$work/repo_unreleased.txt" 2>&1
check "rollout of an unreleased version is refused" grep -q "fashion version 8 is not released" "$work/repo_unreleased.txt"
"$edgeloop" repo rollout "$repo" --model fashion --tier mid --target 7 --percent 12.5 --json > "$work/repo_rollout.json" 2>&1
check "repo rollout succeeds" test $? -eq 0
check "rollout --json gives basis points" grep -q '"basis_points": 1250' "$work/repo_rollout.json"
"$edgeloop" repo status "$repo" --json > "$work/repo_status.json" 2>&1
check "repo status succeeds" test $? -eq 0
repo_status() {  # versions, tiers from variants.json and the staged rollout, as documented
  if ! command -v python3 > /dev/null; then grep -q '"basis_points": 1250' "$work/repo_status.json"; return; fi
  python3 - "$work/repo_status.json" "$work/variants/variants.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); v = json.load(open(sys.argv[2]))
roles = s["roles"]
assert [roles[r]["version"] for r in ("root", "targets", "rollout", "snapshot", "timestamp")] == [1, 2, 2, 3, 3], roles
assert all(roles[r]["threshold"] == 1 and len(roles[r]["keyids"]) == 1 and not roles[r]["expired"] for r in roles)
by_variant = {t["variant"]: t for t in s["targets"]}
assert set(by_variant) == {"fp32", "int8", "w4a8"}
for tier, variant in v["tiers"].items():
    assert tier in by_variant[variant]["tiers"], (tier, variant)
mid = s["rollout"]["fashion"]["tiers"]["mid"]
assert mid["target"] == "artifacts/%s.edge" % by_variant["int8"]["sha256"] and mid["basis_points"] == 1250
assert len(mid["rollout_id"]) == 32 and mid["baseline"] is None and mid["target_version"] == "7"
PY
}
check "repo status --json has versions, tiers and the rollout" repo_status
"$edgeloop" repo status "$repo" > "$work/repo_status.txt" 2>&1
check "repo status prints the rollout" grep -q "mid .* at 12.50%" "$work/repo_status.txt"
"$edgeloop" repo floor "$repo" --model fashion --version 6 > /dev/null 2>&1
"$edgeloop" repo floor "$repo" --model fashion --version 5 > "$work/repo_floor.txt" 2>&1
check "the floor cannot go down" grep -q "can only rise" "$work/repo_floor.txt"
"$edgeloop" repo rollout --help > "$work/repo_help.txt" 2>&1
check "repo rollout --help explains rollout ids and baselines" grep -q "baseline" "$work/repo_help.txt"
# an encrypted repository needs its passphrase for the offline keys
EDGELOOP_TEST_PASSPHRASE='correct horse' "$edgeloop" repo init "$work/repo_enc" --passphrase-env EDGELOOP_TEST_PASSPHRASE > /dev/null 2>&1
check "repo init --passphrase-env succeeds" test $? -eq 0
"$edgeloop" repo add "$work/repo_enc" "$work/variants/int8.edge" --tiers mid > "$work/repo_enc.txt" 2>&1
check "adding without the passphrase is refused" grep -q "targets.key is encrypted" "$work/repo_enc.txt"
EDGELOOP_TEST_PASSPHRASE='correct horse' "$edgeloop" repo add "$work/repo_enc" "$work/variants/int8.edge" --tiers mid \
  --passphrase-env EDGELOOP_TEST_PASSPHRASE > /dev/null 2>&1
check "adding with the passphrase succeeds" test $? -eq 0

# the device side: provision, update and resolve, straight from the repository folder
dev="$work/device"
"$edgeloop" device check --repo "$repo/public" --data-dir "$dev" --device-id d1 --tier mid > "$work/dev_noroot.txt" 2>&1
check "device check without a trusted root exits 1" test $? -eq 1
check "the refusal says how to provision" grep -q -- "--root ROOT.json" "$work/dev_noroot.txt"
"$edgeloop" repo rollout "$repo" --model fashion --tier mid --target 7 --percent 100 > /dev/null 2>&1
"$edgeloop" device check --repo "file://$repo/public" --data-dir "$dev" --device-id d1 --tier mid \
  --root "$repo/public/metadata/1.root.json" --download "$work/dev.edge" --json > "$work/dev.json" 2>&1
check "device check resolves tier mid to its variant" grep -q '"variant": "int8"' "$work/dev.json"
check "device check says why" grep -q '"reason": "in cohort: bucket [0-9]* < 10000 (100%)' "$work/dev.json"
check "the download is the released artifact" cmp -s "$work/dev.edge" "$work/variants/int8.edge"
"$edgeloop" device check --repo "$repo/public" --data-dir "$dev" --device-id d1 --tier low > "$work/dev_low.txt" 2>&1
check "a tier with nothing rolled out is an error saying so" grep -q "nothing is rolled out for fashion on tier low" "$work/dev_low.txt"
# the model slots (docs/device-storage.md): update into the inactive slot on trial, the watchdog
# reverts a model that never gets marked good, a recall is a flip with no download
d2="$work/device2"; d3="$work/device3"
"$edgeloop" device status --data-dir "$d2" > "$work/slots_empty.txt" 2>&1
check "device status of a new device shows empty slots" grep -q "slot a      empty" "$work/slots_empty.txt"
for d in "$d2" "$d3"; do
  "$edgeloop" device update --repo "$repo/public" --data-dir "$d" --device-id "$(basename "$d")" --tier mid \
    --root "$repo/public/metadata/1.root.json" > "$d.update1.txt" 2>&1
done
check "the first update provisions slot a" grep -q "active slot a: the first model, nothing to fall back to" "$d2.update1.txt"
check "the first update passes the smoke test" grep -q "smoke test  golden vector passed" "$d2.update1.txt"
"$edgeloop" model import "$onnx" -o "$work/m8.edge" --name fashion --version 8 > /dev/null 2>&1
"$edgeloop" repo add "$repo" "$work/m8.edge" --tiers mid > "$work/repo_add8.txt" 2>&1
check "repo add makes a delta from the earlier version of the variant" \
  grep -q "^  delta from v7 ([0-9a-f]\{16\}…): [0-9]* bytes ([0-9.]*% of full)$" "$work/repo_add8.txt"
fp32_sha=$(sha256sum "$work/variants/fp32.edge" | cut -d' ' -f1); m8_sha=$(sha256sum "$work/m8.edge" | cut -d' ' -f1)
"$edgeloop" delta apply "$work/variants/fp32.edge" "$repo/public/deltas/$fp32_sha-$m8_sha.delta" -o "$work/m8_from_delta.edge" \
  --expect-sha256 "$m8_sha" > /dev/null 2>&1
check "the delta under public/deltas rebuilds the new artifact" cmp -s "$work/m8_from_delta.edge" "$work/m8.edge"
"$edgeloop" repo status "$repo" > "$work/repo_status8.txt" 2>&1
check "repo status counts each target's deltas" grep -q "fashion 8 fp32 .* 1 delta$" "$work/repo_status8.txt"
"$edgeloop" repo rollout "$repo" --model fashion --tier mid --target 8 --percent 100 > /dev/null 2>&1
"$edgeloop" device update --repo "$repo/public" --data-dir "$d2" --device-id device2 --tier mid > "$work/slots_up2.txt" 2>&1
check "device update installs version 8 into slot b" grep -q "install     written to slot b" "$work/slots_up2.txt"
check "device update switches on trial with a fallback" grep -q "active slot b on trial (3 attempts), last-known-good slot a (fashion 7 (int8))" "$work/slots_up2.txt"
"$edgeloop" device update --repo "$repo/public" --data-dir "$d2" --device-id device2 --tier mid > "$work/slots_again.txt" 2>&1
check "a second update sees the target already active" grep -q "already active in slot b: nothing to do" "$work/slots_again.txt"
for i in 1 2 3; do "$edgeloop" device start --data-dir "$d2" > "$work/slots_start$i.txt" 2>&1; done
check "each start on trial spends an attempt" grep -q "one attempt spent before it runs, 0 left" "$work/slots_start3.txt"
"$edgeloop" device start --data-dir "$d2" > "$work/slots_start4.txt" 2>&1
check "the fourth start reverts on its own" grep -q "used all its attempts: reverted to slot a (fashion 7 (int8))" "$work/slots_start4.txt"
"$edgeloop" device status --data-dir "$d2" --json > "$work/slots_status.json" 2>&1
slots_reverted() {
  if ! command -v python3 > /dev/null; then grep -q '"active": "a"' "$work/slots_status.json"; return; fi
  python3 - "$work/slots_status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["active"] == "a" and s["trial"] is None and s["last_known_good"] is None, s
assert s["slots"]["a"]["version"] == "7" and s["slots"]["b"]["version"] == "8" and s["slots"]["b"]["failed"], s
PY
}
check "device status --json shows the revert and the failed slot" slots_reverted
"$edgeloop" device update --repo "$repo/public" --data-dir "$d2" --device-id device2 --tier mid > "$work/slots_failed.txt" 2>&1
check "a target that failed its trial here is not installed again" grep -q "failed its trial on this device" "$work/slots_failed.txt"
"$edgeloop" device revert --data-dir "$d2" > "$work/slots_norevert.txt" 2>&1
check "revert without a last-known-good exits 1" test $? -eq 1
check "the refusal says why" grep -q "no last-known-good" "$work/slots_norevert.txt"
"$edgeloop" device update --repo "$repo/public" --data-dir "$d3" --device-id device3 --tier mid > /dev/null 2>&1
"$edgeloop" device mark-good --data-dir "$d3" > "$work/slots_good.txt" 2>&1
check "device mark-good ends the trial" grep -q "marked good slot b (fashion 8 (fp32))" "$work/slots_good.txt"
"$edgeloop" device mark-good --data-dir "$d3" > /dev/null 2>&1
check "mark-good without a trial exits 1" test $? -eq 1
"$edgeloop" repo pin "$repo" --model fashion --tier mid --version 7 > /dev/null 2>&1
"$edgeloop" device update --repo "$repo/public" --data-dir "$d3" --device-id device3 --tier mid --json > "$work/slots_recall.json" 2>&1
check "a recall to the last-known-good flips" grep -q '"action": "flipped-to-last-known-good"' "$work/slots_recall.json"
check "the recall downloads nothing" grep -q '"downloaded_bytes": 0' "$work/slots_recall.json"
"$edgeloop" device revert --data-dir "$d3" > "$work/slots_revert.txt" 2>&1
check "device revert flips back to the trusted version 8" grep -q "to slot b (fashion 8 (fp32))" "$work/slots_revert.txt"
"$edgeloop" device start --data-dir "$d3" > "$work/slots_start_d3.txt" 2>&1
check "a start without a trial runs the active model" grep -q "no trial: running slot b" "$work/slots_start_d3.txt"
check "the slots folder holds no temporary files" test -z "$(ls -A "$d2/slots" "$d3/slots" | grep '^\.')"
"$edgeloop" repo pin "$repo" --model fashion --tier mid --unpin > /dev/null 2>&1
# an update by delta (docs/downloads.md): device3 runs version 8 (fp32); version 9 ships as a
# delta from it; the download policy defers on a metered network
"$edgeloop" model import "$onnx" -o "$work/m9.edge" --name fashion --version 9 > /dev/null 2>&1
"$edgeloop" repo add "$repo" "$work/m9.edge" --tiers mid > /dev/null 2>&1
"$edgeloop" repo rollout "$repo" --model fashion --tier mid --target 9 --percent 100 > /dev/null 2>&1
"$edgeloop" device update --repo "$repo/public" --data-dir "$d3" --device-id device3 --tier mid --metered \
  > "$work/slots_metered.txt" 2>&1
check "a metered network defers the update (exit 1)" test $? -eq 1
check "the deferral says why" grep -q "deferred: on a metered network" "$work/slots_metered.txt"
"$edgeloop" device update --repo "$repo/public" --data-dir "$d3" --device-id device3 --tier mid --metered \
  --allow-metered --json > "$work/slots_delta.json" 2>&1
delta_used() {
  if ! command -v python3 > /dev/null; then grep -q '"via": "delta"' "$work/slots_delta.json"; return; fi
  python3 - "$work/slots_delta.json" "$(stat -c %s "$work/m9.edge")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["download"]["via"] == "delta" and "fashion 8" in r["download"]["delta_from"], r["download"]
assert 0 < r["downloaded_bytes"] < int(sys.argv[2]) // 100, r["downloaded_bytes"]
assert r["action"] == "installed-on-trial" and r["state"]["trial"]["successes"] == 0, r
PY
}
check "device update downloads the delta from the model it runs, under 1% of the artifact" delta_used
check "the download folder is empty after the install" test -z "$(ls -A "$d3/downloads")"

"$edgeloop" repo publish "$repo" > /dev/null 2>&1
dev_tree() { find "$dev" -type f -exec sha256sum {} + | sort; }
dev_tree > "$work/dev_before.txt"
perl -pi -e 's/("sig": ")(.)/$1 . ($2 eq "a" ? "b" : "a")/e' "$repo/public/metadata/timestamp.json"  # a valid-looking, wrong signature
"$edgeloop" device check --repo "$repo/public" --data-dir "$dev" --device-id d1 --tier mid > "$work/dev_evil.txt" 2>&1
check "a timestamp with a bad signature is refused" grep -q "threshold not met" "$work/dev_evil.txt"
check "the refused update changes no trusted state" cmp -s "$work/dev_before.txt" <(dev_tree)
"$edgeloop" device check --help > "$work/dev_help.txt" 2>&1
check "device check --help explains provisioning" grep -q -- "--root" "$work/dev_help.txt"

# delta make / apply: a round trip, a wrong base refused with no output, a wrong expected hash refused
"$edgeloop" model import "$onnx" -o "$work/d_base.edge" --version 1 > /dev/null 2>&1
"$edgeloop" model import "$onnx" -o "$work/d_target.edge" --version 2 > /dev/null 2>&1
"$edgeloop" delta make "$work/d_base.edge" "$work/d_target.edge" -o "$work/d.patch" --level 3 > "$work/delta_make.txt" 2>&1
check "delta make succeeds" test $? -eq 0
check "delta make prints the sizes by section" grep -q "rest (header, graph, padding" "$work/delta_make.txt"
check "a version bump is a tiny patch" test "$(stat -c %s "$work/d.patch")" -lt 4096
"$edgeloop" delta make "$work/d_base.edge" "$work/d_target.edge" -o "$work/d2.patch" --level 3 --json > "$work/delta_make.json"
check "delta make --json has the breakdown" grep -q '"literal_tensors"' "$work/delta_make.json"
target_sha=$(sha256sum "$work/d_target.edge" | cut -d' ' -f1)
"$edgeloop" delta apply "$work/d_base.edge" "$work/d.patch" -o "$work/d_out.edge" --expect-sha256 "$target_sha" --json > "$work/delta_apply.json" 2>&1
check "delta apply succeeds" test $? -eq 0
check "delta apply rebuilds the target" cmp -s "$work/d_out.edge" "$work/d_target.edge"
check "delta apply --json reports memory" grep -q '"peak_buffer_bytes"' "$work/delta_apply.json"
"$edgeloop" delta apply "$work/d_target.edge" "$work/d.patch" -o "$work/d_bad.edge" > "$work/delta_wrong_base.txt" 2>&1
check "delta apply refuses a wrong base" test $? -ne 0
check "the refusal says which base the patch needs" grep -q "made for base" "$work/delta_wrong_base.txt"
check "a refused apply writes no file" test ! -e "$work/d_bad.edge"
"$edgeloop" delta apply "$work/d_base.edge" "$work/d.patch" -o "$work/d_bad.edge" --expect-sha256 "$(printf '0%.0s' {1..64})" > "$work/delta_wrong_hash.txt" 2>&1
check "delta apply refuses a patch for another target" test $? -ne 0
check "a refused apply leaves no temporary file" test -z "$(ls -A "$work" | grep 'd_bad')"

# repo add --deltas K: none with 0; with 1 only from the newest earlier version, listed in --json
"$edgeloop" repo init "$work/repo_d" > /dev/null 2>&1
"$edgeloop" repo add "$work/repo_d" "$work/d_base.edge" "$work/d_target.edge" --deltas 0 > /dev/null 2>&1
check "repo add --deltas 0 makes no delta" test $? -eq 0 -a ! -e "$work/repo_d/public/deltas"
"$edgeloop" model import "$onnx" -o "$work/d_v3.edge" --version 3 > /dev/null 2>&1
"$edgeloop" repo add "$work/repo_d" "$work/d_v3.edge" --deltas 1 --delta-level 3 --json > "$work/repo_d.json" 2>&1
repo_d_json() {
  if ! command -v python3 > /dev/null; then grep -q '"listed": true' "$work/repo_d.json"; return; fi
  python3 - "$work/repo_d.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["added"][0]
made, listed = t["deltas_made"], t["deltas"]
assert [d["from_version"] for d in made] == ["2"] and made[0]["listed"], made
assert len(listed) == 1 and listed[0]["length"] == made[0]["patch_bytes"] < t["length"], (listed, t["length"])
assert listed[0]["path"] == "deltas/%s-%s.delta" % (made[0]["from_sha256"], t["sha256"]), listed
PY
}
check "repo add --deltas 1 --json lists one delta from the newest earlier version" repo_d_json
check "exactly that patch is on disk" test "$(ls "$work/repo_d/public/deltas")" = "$(sha256sum "$work/d_target.edge" | cut -d' ' -f1)-$(sha256sum "$work/d_v3.edge" | cut -d' ' -f1).delta"

# split inference (docs/split-inference.md): where the model can be cut, and the stage server
# serving the tail on a port the kernel picks
"$edgeloop" model cuts "$work/m.edge" > "$work/cuts.txt" 2>&1
check "model cuts succeeds" test $? -eq 0
check "model cuts says the raw input never leaves" grep -q "cut points; the raw input, which never leaves the device, is 3.1 KiB" "$work/cuts.txt"
"$edgeloop" model cuts "$work/m.edge" --json > "$work/cuts.json" 2>&1
check "model cuts --json lists tensors with their bytes" grep -q '"bytes"' "$work/cuts.json"
cut=$(sed -n 4p "$work/cuts.txt" | awk '{print $1}')
check "model cuts lists a tensor per line" test -n "$cut"
"$edgeloop" stage-server --model "$work/m.edge" --cut no_such_tensor > "$work/stage_bad.txt" 2>&1
check "stage-server refuses a cut that is no tensor" grep -q "cannot cut at .*cut candidates: " "$work/stage_bad.txt"
"$edgeloop" stage-server --help > "$work/stage_help.txt" 2>&1
check "stage-server --help names --cut and --port" grep -q -- "--port" "$work/stage_help.txt"
"$edgeloop" stage-server --model "$work/m.edge" --cut "$cut" --port 0 > "$work/stage.txt" 2> "$work/stage_err.txt" &
stage_pid=$!
for _ in $(seq 1 200); do grep -q "^serving the tail" "$work/stage.txt" && break; sleep 0.05; done
check "stage-server says where it serves" grep -qF "serving the tail of fashion after $cut on http://127.0.0.1:" "$work/stage.txt"
check "stage-server runs the tail's smoke test" grep -q "smoke test passed" "$work/stage.txt"
port=$(sed -n 's|^serving the tail .* on http://127.0.0.1:\([0-9][0-9]*\)$|\1|p' "$work/stage.txt")
check "stage-server picked a port" test -n "$port"
if command -v curl > /dev/null && command -v python3 > /dev/null && [ -n "$port" ]; then
  curl -s "http://127.0.0.1:$port/v1/info" > "$work/stage_info.json"
  check "GET /v1/info names the cut" grep -qF "\"cut\":\"$cut\"" "$work/stage_info.json"
  # A zero activation of the tail's input shape, in the wire format, posted as a device would.
  python3 - "$work/stage_info.json" "$work/activation.bin" <<'PY'
import json, struct, sys
info = json.load(open(sys.argv[1]))
shape, name = info["input"]["shape"], info["cut"].encode()
msg = b"ELTW" + struct.pack("<BBH", 1, 0, 1) + struct.pack("<H", len(name)) + name + struct.pack("<BB", 0, len(shape))
msg += b"".join(struct.pack("<q", d) for d in shape) + struct.pack("<Q", info["input"]["bytes"]) + bytes(info["input"]["bytes"])
open(sys.argv[2], "wb").write(msg)
PY
  status=$(curl -s -o "$work/reply.bin" -w '%{http_code}' -H 'Content-Type: application/x-edgeloop-tensors' \
    --data-binary @"$work/activation.bin" "http://127.0.0.1:$port/v1/tail")
  check "POST /v1/tail answers 200" test "$status" = 200
  check "the reply is a tensor message" test "$(head -c 4 "$work/reply.bin")" = ELTW
  status=$(curl -s -o "$work/reply_bad.txt" -w '%{http_code}' --data-binary 'not a tensor' "http://127.0.0.1:$port/v1/tail")
  check "a malformed POST is a 400 saying why" test "$status" = 400
  check "the 400 says why" grep -q "not a tensor message" "$work/reply_bad.txt"
fi
# the camera simulator (docs/engine.md) on device 3 (fashion 8, the same graph as m.edge): under a
# floor of 0.9 the engine escalates to the stage server with the cut activation
"$edgeloop" device simulate-camera --data-dir "$d3" --seconds 5 --floor 0.9 --remote "http://127.0.0.1:$port" --cut "$cut" \
  --json > "$work/cam_remote.json" 2> "$work/cam_remote_err.txt"
check "simulate-camera --remote succeeds" test $? -eq 0
cam_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
if command -v python3 > /dev/null; then
  check "answers under the floor came from the stage server" test "$(cam_field "$work/cam_remote.json" "d['metrics']['answers_by_source']['remote'] > 0")" = True
  check "150 frames at 30 fps over 5 s" test "$(cam_field "$work/cam_remote.json" "d['metrics']['frames_offered']")" = 150
  check "the metrics record names its schema" test "$(cam_field "$work/cam_remote.json" "d['metrics']['schema']")" = edgeloop-guardrails
fi
kill -TERM "$stage_pid" 2> /dev/null
wait "$stage_pid"
check "stage-server exits cleanly on SIGTERM" test $? -eq 0
check "stage-server reports what it served" grep -q "stopped on SIGTERM: [0-9]* served" "$work/stage.txt"
"$edgeloop" device simulate-camera --data-dir "$d3" --seconds 5 --floor 0.9 --remote "http://127.0.0.1:$port" --cut "$cut" \
  > "$work/cam_down.txt" 2>&1
check "with the stage server gone the camera runs on" test $? -eq 0
check "a failed escalation leaves the local answer flagged" grep -q "remote-failed [1-9]" "$work/cam_down.txt"
check "then the stage is offline and not waited for" grep -q "below-floor-offline [1-9]" "$work/cam_down.txt"
"$edgeloop" device simulate-camera --data-dir "$d3" --seconds 5 --offline > "$work/cam_offline.txt" 2>&1
check "simulate-camera --offline prints the ladder and the answers" grep -q "^ladder      L0-full 5 s" "$work/cam_offline.txt"
check "offline is said" grep -q "^remote      offline" "$work/cam_offline.txt"
"$edgeloop" device simulate-camera --data-dir "$d3" --remote "http://127.0.0.1:$port" > "$work/cam_nocut.txt" 2>&1
check "--remote without --cut is refused" grep -q -- "--remote requires --cut" "$work/cam_nocut.txt"
"$edgeloop" device simulate-camera --data-dir "$work/no_such_device" > "$work/cam_empty.txt" 2>&1
check "a device without a model is told to update first" grep -q "run .edgeloop device update. first" "$work/cam_empty.txt"
# a release that blows the latency budget (examples/bad_release/wide_cnn.onnx, ~200 ms a frame)
# passes every check, goes on trial, and fails in the shadow: reverted with nothing downloaded
d4="$work/device4"; repo4="$work/repo_wide"
"$edgeloop" repo init "$repo4" > /dev/null 2>&1
"$edgeloop" repo add "$repo4" "$work/m.edge" --tiers mid > /dev/null 2>&1
"$edgeloop" repo rollout "$repo4" --model fashion --tier mid --target 7 --percent 100 > /dev/null 2>&1
"$edgeloop" device update --repo "$repo4/public" --data-dir "$d4" --device-id device4 --tier mid \
  --root "$repo4/public/metadata/1.root.json" > /dev/null 2>&1
"$edgeloop" model import "$root/examples/bad_release/wide_cnn.onnx" -o "$work/wide.edge" --name fashion --version 10 > /dev/null 2>&1
"$edgeloop" repo add "$repo4" "$work/wide.edge" --tiers mid > /dev/null 2>&1
"$edgeloop" repo rollout "$repo4" --model fashion --tier mid --target 10 --percent 100 > /dev/null 2>&1
"$edgeloop" device update --repo "$repo4/public" --data-dir "$d4" --device-id device4 --tier mid > "$work/wide_update.txt" 2>&1
check "the slow release passes the smoke test and goes on trial" grep -q "^switch      active slot b on trial" "$work/wide_update.txt"
# A mid tier with a 20 ms budget, so the slow release is over its shadow limit (the budget, in
# CPU time) on a fast CPU too (it runs ~80-200 ms a frame; the CNN ~1 ms).
sed 's/"latency_p95_ms": [0-9.]*/"latency_p95_ms": 20/' "$root/examples/budgets.json" > "$work/budgets_20ms.json"
"$edgeloop" device simulate-camera --data-dir "$d4" --seconds 3 --realtime --shadow-rate 1 --budgets "$work/budgets_20ms.json" \
  > "$work/cam_wide.txt" 2>&1
check "simulate-camera on the slow trial succeeds" test $? -eq 0
check "the trial is reverted after 3 shadow failures, nothing downloaded" grep -q \
  "^trial       slot b failed in the shadow (3 challenger runs failed or ran over the 20 ms budget) before it ever answered: reverted to slot a (fashion 7 (fp32)), nothing downloaded" \
  "$work/cam_wide.txt"
check "the caller never got the slow model's answers" grep -q "; 0 deadline overruns;" "$work/cam_wide.txt"
"$edgeloop" device status --data-dir "$d4" > "$work/wide_status.txt" 2>&1
check "device status shows the slow release failed its trial" grep -q "fashion 10 (fp32).*\[failed its trial\]" "$work/wide_status.txt"

# device update over real loopback HTTP (docs/downloads.md): a static server that honours
# "Range: bytes=N-" serves a repository; a delta, --no-delta, --max-rate, a download killed
# midway and resumed, the smaller variant installed beside the model, the policy read from a
# fake sysfs power supply; then mark-good / revert --json
if command -v python3 > /dev/null; then
  repo5="$work/repo_http"
  "$edgeloop" repo init "$repo5" > /dev/null 2>&1
  "$edgeloop" repo add "$repo5" "$work/variants/fp32.edge" "$work/variants/int8.edge" "$work/variants/w4a8.edge" \
    --variants "$work/variants/variants.json" > /dev/null 2>&1
  "$edgeloop" repo rollout "$repo5" --model fashion --tier mid --target 7 --percent 100 > /dev/null 2>&1
  cat > "$work/range_server.py" <<'PY'
import http.server, os, re, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
    def send_head(self):
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not m or not os.path.isfile(path): return super().send_head()
        f = open(path, "rb"); size = os.fstat(f.fileno()).st_size; start = int(m.group(1))
        if start >= size:
            f.close(); self.send_response(416); self.send_header("Content-Range", "bytes */%d" % size); self.end_headers(); return None
        f.seek(start); self.send_response(206)
        self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.send_header("Content-Length", str(size - start)); self.end_headers(); return f
os.chdir(sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
  python3 "$work/range_server.py" "$repo5/public" > "$work/http_port.txt" 2> "$work/http_err.txt" &
  http_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/http_port.txt" ] && break; sleep 0.05; done
  url="http://127.0.0.1:$(head -1 "$work/http_port.txt")"
  root5="$repo5/public/metadata/1.root.json"
  up5() { "$edgeloop" device update --repo "$url" --device-id "$(basename "$1")" --tier mid --data-dir "$@"; }
  d5="$work/device5"; d6="$work/device6"; d7="$work/device7"; d8="$work/device8"; d9="$work/device9"
  up5 "$d5" --root "$root5" > "$work/http_up5.txt" 2>&1
  check "device update over HTTP provisions the model" grep -q "^switch      active slot a: the first model" "$work/http_up5.txt"
  check "the release's smallest variant is installed beside it" \
    grep -q "^companion   fashion 7 (w4a8), [0-9]* bytes: full artifact, [0-9]* bytes, verified, smoke test passed" "$work/http_up5.txt"
  check "the steps print in the order they happen" \
    test "$(grep -v '^ ' "$work/http_up5.txt" | awk '{print $1}' | tr '\n' ,)" = "conditions,check,why,download,verify,smoke,install,switch,companion,"
  check "the companion is stored beside the slots, keyed by its SHA-256" \
    test -s "$d5/companion/$(sha256sum "$work/variants/w4a8.edge" | cut -d' ' -f1).edge"
  up5 "$d7" --root "$root5" --no-companion > "$work/http_up7.txt" 2>&1
  check "--no-companion installs the model alone" test $? -eq 0 -a ! -e "$d7/companion"
  # version 8, re-quantized the same way: a delta from version 7's int8 is nearly nothing
  "$edgeloop" model quantize "$work/m8.edge" --scheme int8 --calib fashion-mnist:train:20 -o "$work/m8_int8.edge" > /dev/null 2>&1
  "$edgeloop" repo add "$repo5" "$work/m8_int8.edge" --tiers mid > /dev/null 2>&1
  "$edgeloop" repo rollout "$repo5" --model fashion --tier mid --target 8 --percent 100 > /dev/null 2>&1
  up5 "$d5" --json > "$work/http_delta.json" 2>&1
  http_delta() {
    python3 - "$work/http_delta.json" "$(stat -c %s "$work/m8_int8.edge")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["action"] == "installed-on-trial" and r["download"]["via"] == "delta", r
assert 0 < r["downloaded_bytes"] < int(sys.argv[2]) // 10, r["downloaded_bytes"]
assert r["companion"]["status"] == "none", r["companion"]  # version 8 ships no smaller variant
assert r["conditions"]["metered"] is False and "network-state" in r["conditions"]["network_source"], r["conditions"]
PY
  }
  check "device update over HTTP downloads the delta" http_delta
  up5 "$d7" --no-delta --json > "$work/http_nodelta.json" 2>&1
  http_nodelta() {
    python3 - "$work/http_nodelta.json" "$(stat -c %s "$work/m8_int8.edge")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["action"] == "installed-on-trial" and r["download"]["via"] == "full", r
assert r["downloaded_bytes"] == int(sys.argv[2]), r["downloaded_bytes"]
PY
  }
  check "--no-delta downloads the whole artifact" http_nodelta
  # --max-rate: the token bucket starts with one second's worth, the rest waits at the rate
  size8=$(stat -c %s "$work/m8_int8.edge")
  t0=$(python3 -c 'import time; print(time.time())')
  up5 "$d6" --root "$root5" --no-companion --max-rate 100000 --json > "$work/http_rate.json" 2>&1
  rate_ok=$?
  elapsed=$(python3 -c "import time; print(time.time() - $t0)")
  check "--max-rate 100000 installs" test $rate_ok -eq 0
  check "--max-rate holds the download to the rate" \
    python3 -c "import sys; sys.exit(0 if float('$elapsed') >= 0.9 * ($size8 - 100000) / 100000 else 1)"
  # killed midway (SIGKILL, as a power cut or the OOM killer would), then run again: it resumes
  "$edgeloop" device update --repo "$url" --data-dir "$d8" --device-id device8 --tier mid --root "$root5" --no-companion \
    --max-rate 40000 > "$work/http_killed.txt" 2>&1 &
  killed_pid=$!  # edgeloop itself, not a subshell
  for _ in $(seq 1 200); do
    partial=$(ls "$d8"/downloads/*.partial 2> /dev/null | head -1)
    [ -n "$partial" ] && [ "$(stat -c %s "$partial")" -gt 0 ] && break
    sleep 0.05
  done
  kill -KILL "$killed_pid" 2> /dev/null; wait "$killed_pid" 2> /dev/null
  check "a killed update leaves its partial download" test -n "$partial" -a -s "$partial"
  check "and installs nothing" grep -q '"active": null' <("$edgeloop" device status --data-dir "$d8" --json)
  up5 "$d8" --no-companion --json > "$work/http_resumed.json" 2>&1
  http_resumed() {
    python3 - "$work/http_resumed.json" "$size8" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["action"] == "provisioned", r
assert r["download"]["resumed_from"] > 0, r["download"]
assert r["download"]["resumed_from"] + r["downloaded_bytes"] == int(sys.argv[2]), (r["download"], r["downloaded_bytes"])
PY
  }
  check "the next update resumes where the killed one stopped" http_resumed
  # the download policy reads the battery from sysfs (a fake power_supply here) unless told
  mkdir -p "$work/sysfs/BAT0"
  printf 'Battery\n' > "$work/sysfs/BAT0/type"; printf '10\n' > "$work/sysfs/BAT0/capacity"; printf 'Discharging\n' > "$work/sysfs/BAT0/status"
  up5 "$d9" --root "$root5" --power-supply "$work/sysfs" > "$work/http_battery.txt" 2>&1
  check "a low battery read from sysfs defers the update (exit 1)" test $? -eq 1
  check "the deferral says the battery level" grep -q "deferred: battery at 10%" "$work/http_battery.txt"
  check "the conditions line says where the reading came from" grep -q "^conditions  .*battery 10%, not charging (power supply)" "$work/http_battery.txt"
  up5 "$d9" --power-supply "$work/sysfs" --charging > /dev/null 2>&1
  check "--charging overrides the power supply's reading" test $? -eq 0
  printf 'metered\n' > "$d9/network-state"
  "$edgeloop" repo add "$repo5" "$work/m9.edge" --tiers mid > /dev/null 2>&1
  "$edgeloop" repo rollout "$repo5" --model fashion --tier mid --target 9 --percent 100 > /dev/null 2>&1
  up5 "$d9" --power-supply "$work/sysfs" --charging > "$work/http_metered.txt" 2>&1
  check "the platform's network state file defers on a metered network" grep -q "deferred: on a metered network" "$work/http_metered.txt"
  kill "$http_pid" 2> /dev/null; wait "$http_pid" 2> /dev/null

  # mark-good and revert --json (device5: version 8 on trial, version 7 last-known-good)
  "$edgeloop" device mark-good --data-dir "$d5" --json > "$work/good.json" 2>&1
  good_json() {
    python3 - "$work/good.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["action"] == "marked-good" and r["slot"] == "b", r
assert r["state"]["trial"] is None and r["state"]["active"] == "b" and r["state"]["last_known_good"] == "a", r
PY
  }
  check "device mark-good --json" good_json
  "$edgeloop" device revert --data-dir "$d5" --json > "$work/revert.json" 2>&1
  revert_json() {
    python3 - "$work/revert.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["action"] == "reverted" and r["from"] == "b" and r["to"] == "a" and r["trial_failed"] is False, r
assert r["downloaded_bytes"] == 0 and r["state"]["active"] == "a" and r["state"]["last_known_good"] == "b", r
PY
  }
  check "device revert --json" revert_json
  "$edgeloop" device mark-good --data-dir "$d5" --json > "$work/good_none.txt" 2>&1
  check "mark-good --json without a trial still exits 1" test $? -eq 1
  # the camera on device5: version 7 answers, and the companion installed beside it runs L1
  "$edgeloop" device simulate-camera --data-dir "$d5" --seconds 2 > "$work/cam_companion.txt" 2>&1
  check "simulate-camera runs the companion for L1" grep -q "^smaller     the companion fashion 7 (w4a8)" "$work/cam_companion.txt"
fi

# simulate-camera --offline with a --remote stage configured: the stage is never called
"$edgeloop" stage-server --model "$work/m.edge" --cut "$cut" --port 0 > "$work/stage2.txt" 2> "$work/stage2_err.txt" &
stage2_pid=$!
for _ in $(seq 1 200); do grep -q "^serving the tail" "$work/stage2.txt" && break; sleep 0.05; done
port2=$(sed -n 's|^serving the tail .* on http://127.0.0.1:\([0-9][0-9]*\)$|\1|p' "$work/stage2.txt")
"$edgeloop" device simulate-camera --data-dir "$d3" --seconds 5 --floor 0.9 --remote "http://127.0.0.1:$port2" --cut "$cut" \
  --offline --json > "$work/cam_offline_remote.json" 2> "$work/cam_offline_remote_err.txt"
check "simulate-camera --offline --remote succeeds" test $? -eq 0
if command -v python3 > /dev/null; then
  check "offline: answers under the floor are flagged below-floor-offline" \
    test "$(cam_field "$work/cam_offline_remote.json" "d['metrics']['fallbacks']['below-floor-offline'] > 0 and d['offline']")" = True
  check "offline: no answer came from the stage and L3 never ran" \
    test "$(cam_field "$work/cam_offline_remote.json" "(d['metrics']['answers_by_source']['remote'], d['metrics']['seconds_per_level']['L3-remote'])")" = "(0, 0.0)"
fi
kill -TERM "$stage2_pid" 2> /dev/null
wait "$stage2_pid"
check "offline: the stage server received no request" grep -q "stopped on SIGTERM: 0 served, 0 refused, 0 failed" "$work/stage2.txt"
# --fps under the tier's L2 rate: validated again, L2's rate clamped to half
"$edgeloop" device simulate-camera --data-dir "$d3" --seconds 2 --fps 10 > "$work/cam_fps.txt" 2>&1
check "--fps 10 on tier mid clamps L2's rate to 5 fps and says so" grep -q "^rates       L2's lower rate of tier mid is not below --fps 10: L2 runs at 5 fps" "$work/cam_fps.txt"
"$edgeloop" device --help > "$work/device_help.txt" 2>&1
check "device --help describes every device command" \
  grep -q "check (verify the repository, resolve this device's model), update (one update cycle" "$work/device_help.txt"
check "device --help names sensors" grep -q "sensors (what the governor" "$work/device_help.txt"

# device sensors: what the governor and the download policy read, from a fake device's sysfs
s="$work/sensors"; mkdir -p "$s/thermal/thermal_zone0" "$s/thermal/thermal_zone1" "$s/power/BAT0" "$s/data"
echo 41500 > "$s/thermal/thermal_zone0/temp"; echo 57250 > "$s/thermal/thermal_zone1/temp"
echo Battery > "$s/power/BAT0/type"; echo 23 > "$s/power/BAT0/capacity"; echo Discharging > "$s/power/BAT0/status"
printf 'MemTotal:  4000000 kB\nMemFree:  100000 kB\nMemAvailable:  1000000 kB\n' > "$s/meminfo"
echo metered > "$s/data/network-state"
"$edgeloop" device sensors --thermal "$s/thermal" --power-supply "$s/power" --meminfo "$s/meminfo" --data-dir "$s/data" \
  > "$work/sensors.txt" 2>&1
check "device sensors: the hottest zone" grep -q "^thermal     57.2 °C" "$work/sensors.txt"
check "device sensors: memory pressure" grep -q "^memory      pressure 0.75" "$work/sensors.txt"
check "device sensors: the battery" grep -q "^power       battery 23%, not charging" "$work/sensors.txt"
check "device sensors: the network state file" grep -q "^network     metered" "$work/sensors.txt"
"$edgeloop" device sensors --thermal "$s/none" --power-supply "$s/none" --meminfo "$s/meminfo" --json > "$work/sensors.json" 2>&1
check "device sensors: no thermal zones or power supply is said, not an error" test $? -eq 0
check "device sensors --json: null for no reading" grep -q '"temperature_c": null' "$work/sensors.json"
check "device sensors --json: memory" grep -q '"memory_pressure": 0.75' "$work/sensors.json"

"$edgeloop" --help > /dev/null
check "--help works" test $? -eq 0
"$edgeloop" model > /dev/null 2>&1
check "a group without a command exits non-zero" test $? -ne 0

echo "$passes passed, $fails failed"
test $fails -eq 0
