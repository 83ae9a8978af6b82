# save_audio_stream — build, test, install, demo and benchmark.
# `make demo` and `make test` set up everything they need on a fresh Debian machine.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
SWIFT   ?= swift
CONFIG  ?= release
BUILD   := .build/$(CONFIG)
TOOLS   := sa-record sa-serve sa-pull sa-export sa-prune sa-push save_audio_stream
MAN1    := $(wildcard man/*.1)
MAN7    := $(wildcard man/*.7)

.PHONY: all deps build test install uninstall demo bench clean man

all: build

deps:
	@sh scripts/deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG)

# Unit tests (XCTest) and integration tests (pytest) against real Icecast, real files and
# stub servers for what Debian lacks (a Shoutcast v1 server, a stalling or failing server).
test: build man
	$(SWIFT) build -c $(CONFIG) --build-tests
	$(SWIFT) test -c $(CONFIG) --skip-build --disable-swift-testing
	SA_BIN=$(CURDIR)/$(BUILD) python3 -m pytest -q --durations=15 Tests/integration

# Every man page must pass mandoc's linter and groff's warnings without a word.
man: deps
	@out=$$(for m in $(MAN1) $(MAN7); do mandoc -T lint -W warning $$m; groff -t -man -ww -z $$m; done 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; echo "man: $(words $(MAN1) $(MAN7)) pages checked"

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	for t in $(TOOLS); do install -m 755 $(BUILD)/$$t $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(MAN1); do install -m 644 $$m $(DESTDIR)$(MANDIR)/man1/; done
	for m in $(MAN7); do install -m 644 $$m $(DESTDIR)$(MANDIR)/man7/; done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$$(basename $$m); done
	for m in $(MAN7); do rm -f $(DESTDIR)$(MANDIR)/man7/$$(basename $$m); done

demo: build
	@sh scripts/demo.sh $(CURDIR)/$(BUILD)

bench: build
	@sh scripts/bench.sh $(CURDIR)/$(BUILD)

clean:
	rm -rf .build demo tmp bench/work
