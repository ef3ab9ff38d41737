# Builds and installs mpr: the `mpr` command, libmpr.so (the WNet C API),
# the C headers and a pkg-config file, so that
#
#     cc prog.c $(pkg-config --cflags --libs mpr)
#
# works. Targets:
#
#     make                                   cargo build --release (mpr, libmpr.so)
#     make install PREFIX=/usr/local         also DESTDIR=... for staging
#     make uninstall PREFIX=/usr/local
#
# Installed files: $(BINDIR)/mpr, $(LIBDIR)/libmpr.so.$(VERSION) with
# the links libmpr.so.0 (its SONAME, which programs ask the loader for)
# and libmpr.so (what -lmpr finds),
# $(INCLUDEDIR)/mpr/{winnetwk,npapi}.h and $(PKGCONFIGDIR)/mpr.pc, whose
# Cflags point at $(INCLUDEDIR)/mpr (the headers keep the Windows names),
# and in $(LIBEXECDIR)/mpr/ mpr-notifyee-host, the host of notifyees under
# process isolation, mpr-fsd, mpr's file-system server (one per SMB or
# SFTP connection), and mpr-askpass, which hands ssh an SFTP password; their directory is built into mpr and libmpr.so
# (MPR_INSTALL_LIBEXEC_DIR), which look for it there after their own
# directory and $$MPR_LIBEXEC_DIR; and $(USERUNITDIR)/mpr-agent.service, the
# agent's systemd user unit, its ExecStart pointing at $(BINDIR)/mpr (each
# user enables it: docs/agent.md).

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LIBEXECDIR ?= $(PREFIX)/libexec
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# systemd looks for user units in $(PREFIX)/lib/systemd/user for the
# prefixes /usr and /usr/local.
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
CARGO ?= cargo
INSTALL ?= install

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# Cargo's output, wherever CARGO_TARGET_DIR puts it.
RELEASE := $(or $(CARGO_TARGET_DIR),target)/release

.PHONY: all build install uninstall

all: build

build:
	MPR_INSTALL_LIBEXEC_DIR=$(LIBEXECDIR)/mpr $(CARGO) build --release -p mpr-cli -p mpr-capi

# Written on every install: it holds the directories of this invocation.
$(RELEASE)/mpr.pc: mpr.pc.in build
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    mpr.pc.in > $@.tmp
	mv $@.tmp $@

install: build $(RELEASE)/mpr.pc
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/mpr $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(LIBEXECDIR)/mpr
	$(INSTALL) -m 0755 $(RELEASE)/mpr $(DESTDIR)$(BINDIR)/mpr
	$(INSTALL) -m 0755 $(RELEASE)/mpr-notifyee-host $(DESTDIR)$(LIBEXECDIR)/mpr/mpr-notifyee-host
	$(INSTALL) -m 0755 $(RELEASE)/mpr-fsd $(DESTDIR)$(LIBEXECDIR)/mpr/mpr-fsd
	$(INSTALL) -m 0755 $(RELEASE)/mpr-askpass $(DESTDIR)$(LIBEXECDIR)/mpr/mpr-askpass
	@# The SONAME is set in crates/mpr-capi/build.rs; read it back from the library.
	soname=$$(objdump -p $(RELEASE)/libmpr.so | awk '$$1 == "SONAME" { print $$2 }'); \
	    test -n "$$soname" || { echo "make: $(RELEASE)/libmpr.so has no SONAME" >&2; exit 1; }; \
	    $(INSTALL) -m 0755 $(RELEASE)/libmpr.so $(DESTDIR)$(LIBDIR)/libmpr.so.$(VERSION) && \
	    ln -sfn libmpr.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$soname && \
	    ln -sfn $$soname $(DESTDIR)$(LIBDIR)/libmpr.so
	$(INSTALL) -m 0644 include/winnetwk.h include/npapi.h $(DESTDIR)$(INCLUDEDIR)/mpr/
	$(INSTALL) -m 0644 $(RELEASE)/mpr.pc $(DESTDIR)$(PKGCONFIGDIR)/mpr.pc
	$(INSTALL) -d $(DESTDIR)$(USERUNITDIR)
	sed -e 's|^ExecStart=.*|ExecStart=$(BINDIR)/mpr agent|' dist/mpr-agent.service \
	    > $(DESTDIR)$(USERUNITDIR)/mpr-agent.service.tmp
	chmod 0644 $(DESTDIR)$(USERUNITDIR)/mpr-agent.service.tmp
	mv $(DESTDIR)$(USERUNITDIR)/mpr-agent.service.tmp $(DESTDIR)$(USERUNITDIR)/mpr-agent.service
	@# A new library in a system directory needs the loader cache refreshed.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
	    ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mpr $(DESTDIR)$(LIBDIR)/libmpr.so \
	    $(DESTDIR)$(LIBDIR)/libmpr.so.0 $(DESTDIR)$(LIBDIR)/libmpr.so.$(VERSION) \
	    $(DESTDIR)$(INCLUDEDIR)/mpr/winnetwk.h $(DESTDIR)$(INCLUDEDIR)/mpr/npapi.h \
	    $(DESTDIR)$(PKGCONFIGDIR)/mpr.pc $(DESTDIR)$(LIBEXECDIR)/mpr/mpr-notifyee-host \
	    $(DESTDIR)$(LIBEXECDIR)/mpr/mpr-fsd $(DESTDIR)$(LIBEXECDIR)/mpr/mpr-askpass \
	    $(DESTDIR)$(USERUNITDIR)/mpr-agent.service
	-rmdir $(DESTDIR)$(INCLUDEDIR)/mpr $(DESTDIR)$(LIBEXECDIR)/mpr 2>/dev/null
