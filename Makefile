# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two locks: requirements.txt (what production runs) and requirements-test.txt (that plus the
# tests' packages); a change to either file reinstalls (the stamps below).
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
# Two workers by default (this machine has two cores); `PYTEST_ARGS=... make test` replaces it.
PYTEST_ARGS ?= -n 2 --dist loadgroup
MO := translations/zh_CN/LC_MESSAGES/messages.mo translations/en/LC_MESSAGES/messages.mo

CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# More faces for the generated ID-card photos of the tests (tests/id_card_corpus.py).
TEST_FONTS := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc /usr/share/fonts/truetype/arphic/uming.ttc \
	/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
CHROMIUM := /usr/bin/chromium

.PHONY: run test translations messages setup clean system-deps serve-prod

run: $(STAMP) $(MO) system-deps
	$(BIN)/flask --app run setup --demo
	$(BIN)/python run.py

test: $(STAMP) $(MO) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian packages the app and its tests need: a CJK TrueType font for PDFs and test licences;
# more fonts for the tests' ID cards; chromium for the browser tests in tests/e2e (Playwright
# drives Debian's build).
system-deps: $(CJK_FONT) $(TEST_FONTS) $(CHROMIUM)

$(CJK_FONT):
	apt-get install -y fonts-wqy-microhei || (apt-get update && apt-get install -y fonts-wqy-microhei)

$(TEST_FONTS):
	apt-get install -y fonts-wqy-zenhei fonts-arphic-uming fonts-dejavu-core || (apt-get update && apt-get install -y fonts-wqy-zenhei fonts-arphic-uming fonts-dejavu-core)

$(CHROMIUM):
	apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

# Production-style serving: DATABASE_URL (PostgreSQL) and REDIS_URL required; see README.
# Installs requirements.txt only (no test packages) and the CJK font only (no chromium).
serve-prod: $(RUNTIME_STAMP) $(MO) $(CJK_FONT)
	deploy/serve-prod.sh

setup: $(RUNTIME_STAMP) $(MO)
	$(BIN)/flask --app run setup

# Production (`make serve-prod`, `make setup`): the runtime packages only.
$(RUNTIME_STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(RUNTIME_STAMP)

# Developers and tests (`make run`, `make test`): the runtime packages, then the tests' packages.
$(STAMP): $(RUNTIME_STAMP) requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $(STAMP)

translations: $(MO)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(RUNTIME_STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d translations -l $* -i $< -o $@

# Developers: after adding strings, refresh the template and catalogs, then translate zh_CN.
messages: $(RUNTIME_STAMP)
	$(BIN)/pybabel extract -F translations/babel.cfg -k lazy_gettext -k _l -k N_ \
		-o translations/messages.pot --no-location --sort-output --project=jianpei .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance .pytest_cache
