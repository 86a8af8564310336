# The JupyterLab application (web/) and its browser test (tests/browser/).
#
#   make           build/lab: the bundle, schemas and themes cellgate serves
#                  at /lab, rebuilt when the lockfile or web/'s sources change
#                  (node_modules from `npm ci` when missing or older than the
#                  lockfile)
#   make test      also runs browser-test: Debian's Chromium, driven by
#                  playwright-core, against a real server (tests/browser/)
#
# build/lab is fixed (not $(BUILD)/lab): the sanitizer tree shares it, and
# the server finds it beside bin/ (config.c).

LAB_OUT      := build/lab
LAB_STAMP    := $(LAB_OUT)/build.json
LAB_SRCS     := web/package.json web/package-lock.json web/index.js web/prompts.js web/build.mjs \
                web/webpack.config.cjs
WEB_MODULES  := web/node_modules/.package-lock.json
BROWSER_MODULES := tests/browser/node_modules/.package-lock.json
BROWSER_TIMEOUT ?= 900

$(WEB_MODULES): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BROWSER_MODULES): tests/browser/package-lock.json
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(LAB_STAMP): $(LAB_SRCS) $(WEB_MODULES)
	cd web && LAB_OUT=$(abspath $(LAB_OUT)) node build.mjs

.PHONY: lab browser-test
lab: $(LAB_STAMP)

# One server (tests/integration/py/serve.py: the pytest fixture's setup, with
# the native kernels), one browser session against it.
browser-test: $(BIN) $(LAB_STAMP) $(BROWSER_MODULES) $(PARI_KSPEC_FILES) $(GAP_KSPEC_FILES)
	@echo "== browser-test: JupyterLab in Chromium against $(BIN)"
	@CELLGATE_BIN=$(BIN) BROWSER_TIMEOUT=$(BROWSER_TIMEOUT) CELLGATE_POLICY=$(abspath tests/browser/policy.json) \
	  timeout --kill-after=15 $$(( $(BROWSER_TIMEOUT) + 90 )) \
	  /usr/bin/python3 tests/integration/py/serve.py --native pari --native gap \
	    --server-arg=--policy --server-arg=$(abspath tests/browser/policy.json) \
	    --timeout $$(( $(BROWSER_TIMEOUT) + 30 )) -- node tests/browser/lab.test.mjs

EXTRA_ALL   += $(LAB_STAMP)
EXTRA_TESTS += browser-test
EXTRA_CLEAN += web/extensions.gen.js
