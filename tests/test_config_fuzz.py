"""Hostile configuration input: any dict, file or YAML document either builds a config that works
or raises ConfigError, never another exception."""

from __future__ import annotations

import contextlib

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_tracking import ConfigError, ExperimentConfig

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
field_names = st.sampled_from(
    [f.name for f in ExperimentConfig.__dataclass_fields__.values()]
) | st.text(max_size=15)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(field_names, json_values, max_size=6))
def test_fuzzed_dicts_raise_only_config_errors(fields):
    for build in (ExperimentConfig.from_dict, lambda data: ExperimentConfig(**data)):
        try:
            config = build(fields)
        except ConfigError:
            continue
        config.default_name()
        config.estimate_parameters()
        assert config.all_tags


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=200), suffix=st.sampled_from([".yaml", ".json", ".yml"]))
def test_fuzzed_files_raise_only_config_errors(tmp_path, text, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(ConfigError):
        ExperimentConfig.load(path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(field_names, json_values, max_size=6).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True)
    )
)
def test_fuzzed_yaml_documents(tmp_path, document):
    path = tmp_path / "fuzz.yaml"
    path.write_text(document, encoding="utf-8")
    with contextlib.suppress(ConfigError):
        ExperimentConfig.load(path)
