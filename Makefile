# SOCForge — make lab (the lab SOC on local containers), make test (everything CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export CONTAINERS_CONF := $(CURDIR)/containers/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/.venv/bin:$(PATH)
STAMP := .venv/.bootstrap-done
SCENARIOS ?= $(sort $(filter-out shared default,$(notdir $(patsubst %/,%,$(dir $(wildcard molecule/*/molecule.yml))))))

.PHONY: help bootstrap lab lab-down plan test lint unit molecule bench fuzz clean

help:
	@echo "make lab       set up this machine (first run) and deploy the lab SOC on local podman containers"
	@echo "make lab-down  remove the lab containers and networks"
	@echo "make test      set up this machine (first run), then lint + unit/integration tests + every molecule scenario"
	@echo "make plan      write the example site's plan (plan-out/example-site)"
	@echo "make bench     benchmarks (not part of make test)"
	@echo "make fuzz      long fuzzing runs (not part of make test)"
	@echo "scenarios: $(SCENARIOS)"

bootstrap:
	@scripts/bootstrap

lab: bootstrap
	ansible-playbook -i inventories/lab playbooks/lab.yml

lab-down:
	ansible-playbook -i inventories/lab playbooks/lab_containers.yml -e soc_lab_state=absent

plan: bootstrap
	ansible-playbook -i inventories/example-site playbooks/plan.yml -e soc_plan_dir=$(CURDIR)/plan-out/example-site

test: bootstrap
	@scripts/test-all

lint:
	@scripts/test-all lint

unit:
	@scripts/test-all unit

molecule:
	@scripts/test-all molecule $(SCENARIOS)

bench: bootstrap
	@set -e; for b in benchmarks/bench_*.py; do echo "==> $$b"; python "$$b"; done

fuzz: bootstrap
	python -m pytest -m slow -p no:cacheprovider tests/

clean:
	rm -rf plan-out .pytest_cache .ruff_cache
