# olink — PGXS build.  `make demo` and `make test` are the two entry points of the README.

EXTENSION    = olink
EXTVERSION   = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\(.*\)'/\1/p" olink.control)
MODULE_big   = olink
SRCS         = $(wildcard extension/*.c)
OBJS         = $(SRCS:.c=.o)
DATA         = $(wildcard extension/olink--*.sql)
PG_CPPFLAGS  = -I$(srcdir)/extension
SHLIB_LINK   = -lcrypto
PG_CFLAGS    = -Wall -Wmissing-prototypes -Werror=implicit-function-declaration

REGRESS      = registry enforce bypass redteam internal audit credential checkout quota
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf --temp-instance=tmp_check
# isolation specs (test/specs, expected output in test/expected), run by `make installcheck` too
ISOLATION      = revocation checkout
ISOLATION_OPTS = --inputdir=$(srcdir)/test --temp-config=$(srcdir)/test/isolation.conf \
                 --temp-instance=tmp_isolation --dbname=isolation_regression

PG_CONFIG   ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS        := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
endif

# every object depends on the shared header (PGXS does not track headers itself)
$(OBJS): extension/olink.h extension/compat.h

.PHONY: deps demo test bench bench-instructions bench-connect bench-checkout bench-quota

# Install what a fresh Debian 12 machine lacks (needs root; a no-op when present).
deps:
	@bash test/deps.sh

demo: deps
	@bash demo/run-demo.sh

test: deps
	@bash test/run-all.sh

bench: deps
	@bash test/bench/run.sh

bench-instructions: deps
	@bash test/bench/instructions.sh

bench-connect: deps
	@bash test/bench/connect.sh

bench-checkout: deps
	@bash test/bench/checkout.sh

bench-quota: deps
	@bash test/bench/quota.sh
