#!/bin/sh
# The synthetic data generator: N realistic LLM calls in each format llm-ledger benchmarks with
# (canonical records, LiteLLM logging payloads of their real size, OTLP/JSON trace documents),
# deterministic for a seed. The generator itself is `llm-ledger generate` (src/synth/); this
# script writes the three files side by side, gzipped, ready for `llm-ledger import` or a POST.
#
# usage: sample_data/generate.sh [EVENTS] [SEED] [DAYS] [OUT_DIR]
#   EVENTS   calls per file (default 10000)
#   SEED     the seed (default 1): the same seed writes the same bytes
#   DAYS     days of traffic, ending today 00:00 UTC (default 30)
#   OUT_DIR  where to write (default sample_data/generated)
set -eu
events=${1:-10000}
seed=${2:-1}
days=${3:-30}
out=${4:-sample_data/generated}
mkdir -p "$out"
for format in canonical litellm otel; do
    cargo run --release --quiet -- generate --format "$format" --events "$events" --seed "$seed" \
        --days "$days" --out "$out/$format.ndjson.gz"
done
