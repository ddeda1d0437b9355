# carebase — see README.md. `make run` and `make test` are the whole set-up.

CC       ?= cc
BUILD    ?= release
PKGS      = libmicrohttpd jansson sqlite3 libpq libsodium libcurl libcrypto \
            xlsxwriter libqrencode libpng
WARN      = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wcast-qual -Wpointer-arith -Wformat=2 \
            -Wno-unused-parameter -Wno-missing-field-initializers
DEFS      = -D_GNU_SOURCE
INCS      = -Isrc -Ibuild/$(BUILD)/gen

ifeq ($(BUILD),san)
CC        = clang
OPT       = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
LDOPT     = -fsanitize=address,undefined
else ifeq ($(BUILD),debug)
OPT       = -O0 -g
LDOPT     =
else
OPT       = -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
LDOPT     = -pie -Wl,-z,relro,-z,now
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS    += $(WARN) $(OPT) $(DEFS) $(INCS) $(PKG_CFLAGS) -MMD -MP
# libharu (the report and certificate PDFs) has no pkg-config file.
LDLIBS    += $(PKG_LIBS) -lhpdf -lpthread -lm

# libmicrohttpd's own error answers are made problem documents by the
# MHD_queue_response the executable defines (src/http/mhd_answers.c).
LDOPT    += -Wl,--export-dynamic-symbol=MHD_queue_response

B         = build/$(BUILD)
# src/modules.c, the list of modules, goes with the layers: the unit tests
# that walk every module link it.
LIB_TOP   = src/modules.c
SRCS      = $(sort $(wildcard src/*/*.c)) $(LIB_TOP)
OBJS      = $(SRCS:%.c=$(B)/%.o) $(B)/gen/embedded.o
# The rest of src/*.c is the program itself (main.c and the commands,
# cli.c): in the executable, not in the unit tests or the fuzz targets.
MAIN_OBJ  = $(patsubst %.c,$(B)/%.o,$(filter-out $(LIB_TOP),$(sort $(wildcard src/*.c))))
BIN       = $(B)/carebase
# The common-password list comes from Debian's john-data (scripts/install-deps).
COMMON_PASSWORDS = /usr/share/john/password.lst
EMBED_IN  = $(sort $(wildcard migrations/*/*.sql) $(wildcard templates/*/*)) $(COMMON_PASSWORDS)
UNIT_SRCS = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

.PHONY: all run test test-quick test-unit test-api bench lint format format-check fuzz clean deps units headers

all: $(BIN)

deps:
	@scripts/install-deps

$(BIN): $(OBJS) $(MAIN_OBJ)
	$(CC) $(LDOPT) -o $@ $^ $(LDLIBS)
	@ln -sf $(BUILD)/carebase build/carebase-$(BUILD)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Migrations and templates are compiled into the binary.
$(B)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	cc -std=c11 -O1 -Wall -Wextra -o $@ $<

# The web application (docs/WEB.md): web/build.mjs bundles web/src with
# esbuild into web/dist, whose every file is embedded too. npm ci installs
# what web/package-lock.json pins, without running any package's install
# script (web/.npmrc); nothing is fetched when carebase runs.
WEB_SRC   = $(shell find web/src -type f 2>/dev/null | LC_ALL=C sort)
WEB_DIST  = web/dist/.built

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_DIST): web/node_modules/.package-lock.json web/build.mjs $(WEB_SRC)
	cd web && node build.mjs
	@touch $@

$(B)/gen/embedded.c: $(B)/tools/embed $(EMBED_IN) $(WEB_DIST) Makefile
	@mkdir -p $(dir $@)
	$(B)/tools/embed $(EMBED_IN) -w web/dist $$(cd web/dist && \
		find . -type f ! -name .built | sed 's|^\./||' | LC_ALL=C sort) \
		> $@.tmp && mv $@.tmp $@

$(B)/gen/embedded.o: $(B)/gen/embedded.c
	$(CC) $(filter-out -Wmissing-prototypes,$(CFLAGS)) -c -o $@ $<

units: $(UNIT_BINS)

$(B)/tests/%: tests/unit/%.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDOPT) -o $@ $< $(OBJS) $(LDLIBS) -lcmocka

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run

test: deps
	@scripts/test

# The inner loop: release build, unit tests, the SQLite API tier.
test-quick: deps
	@QUICK=1 scripts/test

test-unit: $(UNIT_BINS)
	@scripts/unit $(UNIT_BINS)

test-api: $(BIN)
	@scripts/api $(BIN)

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run

lint: headers format-check
	@scripts/lint

# Every header compiles on its own (docs/STYLE.md): each is included alone
# into an empty translation unit.
HDRS      = $(sort $(wildcard src/*.h src/*/*.h))
headers:
	@for h in $(HDRS); do \
		printf '#include "%s"\n' "$${h#src/}" | \
		$(CC) $(WARN) $(DEFS) $(INCS) $(PKG_CFLAGS) -fsyntax-only -x c - || \
		{ echo "headers: $$h does not compile on its own"; exit 1; }; \
	done; echo "headers: $(words $(HDRS)) compile on their own"

# Every C file is written as clang-format (.clang-format) would write it:
# `make format` rewrites them, `make format-check` (part of make lint and
# make test) names the ones that differ.
FMT_FILES = $(sort $(wildcard src/*.c src/*.h src/*/*.c src/*/*.h tests/unit/*.c \
	tests/unit/*.h fuzz/*.c tools/*.c bench/*.c))
format:
	clang-format -i $(FMT_FILES)

format-check:
	@bad=0; for f in $(FMT_FILES); do \
		clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || \
		{ echo "format: $$f differs from clang-format (make format)"; bad=1; }; \
	done; [ $$bad -eq 0 ] && echo "format: $(words $(FMT_FILES)) files as clang-format writes them"

fuzz:
	@scripts/fuzz

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
