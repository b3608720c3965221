# edgeloop — one entry point. `make demo` and `make test` set up a fresh Debian 12 machine first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
PY         := /usr/bin/python3

.PHONY: all deps build test test-asan test-tsan demo bench bench-compare fuzz models conformance device-size clean help

all: build

help:
	@echo "make            build (binary at $(BUILD)/bin/edgeloop)"
	@echo "make test       install deps, build, run every test through CTest"
	@echo "make demo       install deps, build, run the main job (scripts/demo.sh)"
	@echo "make bench      benchmarks (figures go into docs/benchmarks.md)"
	@echo "make bench-compare  edgeloop vs ONNX Runtime table (bench/compare.sh; COMPARE_ARGS=\"--runs 50 --rounds 3\")"
	@echo "make device-size  stripped size of the device library (runtime + loader + backends)"
	@echo "make fuzz       libFuzzer targets, FUZZ_SECONDS each (default 60); FUZZ_TARGETS=\"metadata …\" picks some"
	@echo "make test-asan  the tests under AddressSanitizer + UBSan"
	@echo "make test-tsan  the device and simulator tests (engine threads, shadow, trial judge) under ThreadSanitizer"
	@echo "make models     regenerate models with PyTorch (MobileNetV2 into $(BUILD)/models)"

deps:
	@scripts/install-deps.sh build

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Everything but the 10,000-image Fashion-MNIST comparison, which `make test` runs (it takes
# ~20 minutes under the sanitizers and exercises no code the other tests miss).
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGELOOP_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS) -E 'FashionMnist\.EdgeModelMatchesPyTorchOnAllTestImages|FashionMobileNet\.EdgeModelMatchesPyTorchOnAllTestImages'

# The engine's workers, its shadow thread and the trial judge under ThreadSanitizer (the device and
# simulator suites; the kernels' own threads come from uninstrumented Debian libraries).
test-tsan: deps
	cmake -S . -B $(BUILD_TSAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS=-fsanitize=thread \
	  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread
	cmake --build $(BUILD_TSAN) -j $(JOBS) --target device_tests sim_tests
	TSAN_OPTIONS=halt_on_error=1 $(BUILD_TSAN)/bin/device_tests
	TSAN_OPTIONS=halt_on_error=1 $(BUILD_TSAN)/bin/sim_tests

demo: build
	scripts/demo.sh $(BUILD)

conformance: build
	$(BUILD)/bin/edgeloop conformance onnx

device-size: build
	scripts/device-size.sh $(BUILD)/libedgeloop_device.so

bench: build
	$(BUILD)/bin/edgeloop_bench --benchmark_counters_tabular=true

# edgeloop vs ONNX Runtime (npm onnxruntime-node, installed into bench/ort/node_modules by the
# script): a markdown table on stdout, raw results in $(BUILD)/bench-compare.json. Not part of
# `make test`. MobileNetV2 is included when `make models` has made it.
COMPARE_ARGS ?=
bench-compare: build
	BUILD=$(BUILD) bench/compare.sh $(COMPARE_ARGS)

fuzz:
	@scripts/install-deps.sh fuzz
	CC=clang-16 CXX=clang++-16 cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGELOOP_FUZZ=ON -DEDGELOOP_TESTS=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

models:
	@scripts/install-deps.sh models
	$(PY) scripts/export_mobilenetv2.py --out-dir $(BUILD)/models

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_TSAN)
