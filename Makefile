# pg_inbox: PGXS build of the extension, plus the project's own targets.
#
#   make / make install       build and install the extension, the client library and
#                             the pg_inbox command (PG_CONFIG picks the server)
#   make test                 everything, on a throw-away cluster, installing what is missing;
#                             the extension's suites on PostgreSQL 17 and 18 too, in Debian
#                             roots (PG_MAJORS="15 17 18" picks)
#   make demo                 the quick tour, on a throw-away cluster
#   make bench                benchmarks against raw SQL (not part of make test)
#   make bench-majors         make bench's ingest part on each major of PG_MAJORS, side by side
#   make stress               soak, memory, crash and sanitizer runs (STRESS_PARTS picks)
#   make installcheck         pg_regress and isolation specs against a running server
#   make lint                 cppcheck and the version check

EXTENSION = pg_inbox
MODULE_big = pg_inbox
EXT_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

OBJS = $(patsubst %.c,%.o,$(wildcard extension/*.c))
DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# the lists of tests are derived from the files, never enumerated
REGRESS = $(sort $(patsubst test/sql/%.sql,%,$(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)
ISOLATION = $(sort $(patsubst test/specs/%.spec,%,$(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --load-extension=$(EXTENSION)

PG_CPPFLAGS = -I$(srcdir)/extension
# make test's build: -Wextra too (without unused-parameter: PostgreSQL's own
# headers and callback signatures trip it), and every warning an error
ifdef WERROR
PG_CFLAGS += -Wextra -Wno-unused-parameter -Werror
endif

EXTRA_CLEAN = test/results test/output_iso results output_iso regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)

# the client library and the pg_inbox command: client/Makefile, installed
# where the same PG_CONFIG says (see the README, "Installing the client").
# A copy of the extension alone (the sanitizer part of make stress builds
# one) has no client directory and builds without it; WITH_CLIENT=no leaves
# it out too (the Debian packages build it once, not per major).
WITH_CLIENT ?= $(if $(wildcard client/Makefile),yes,no)
ifeq ($(WITH_CLIENT),yes)
.PHONY: client install-client clean-client
all: client
client:
	$(MAKE) -C client PG_CONFIG=$(PG_CONFIG)
install: install-client
install-client: client
	$(MAKE) -C client PG_CONFIG=$(PG_CONFIG) install
clean: clean-client
clean-client:
	$(MAKE) -C client clean
endif
else
# a fresh machine: only the targets that install what is missing work
all install installcheck:
	@echo "pg_inbox: error: PGXS not found (PG_CONFIG=$(PG_CONFIG))" >&2
	@echo "pg_inbox: hint: run \"make deps\", or install postgresql-server-dev-15" >&2
	@exit 1
endif

# PGXS tracks no header dependencies: every object depends on every header
$(OBJS): $(wildcard extension/*.h)

.PHONY: test demo bench bench-majors stress lint deps

# Install the Debian packages that a fresh machine lacks (needs root).
deps:
	@tools/ensure-deps

test: deps
	@tools/run-tests

demo: deps
	@tools/run-demo

bench: deps
	@tools/run-bench

bench-majors: deps
	@tools/run-bench-majors

stress: deps
	@tools/run-stress

lint:
	@tools/lint
