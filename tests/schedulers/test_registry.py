import pytest

from schedlab.errors import ConfigError, UnknownNameError
from schedlab.families.spark.schedulers import RoundRobin
from schedlab.schedulers import SchedulerSpec, make, names, register, spec


def test_builtin_spark_schedulers():
    assert names("spark") == [
        "fifo",
        "fair",
        "random",
        "srwf",
        "srwf-tuned",
        "srwf-capped",
        "cpf",
        "rollout",
        "decima",
        "netllm",
    ]
    assert make("srwf", "spark").share == 1.0 and make("srwf-tuned", "spark").share == 1.5
    capped = make("srwf-capped", "spark")
    assert capped.share == 1.5 and capped.cap_source and not make("srwf-tuned", "spark").cap_source
    assert make("fifo", "spark").dynamic_partition is False
    assert make("fair", "spark").dynamic_partition is True


@pytest.mark.parametrize("alias", ["FAIR", "Round_Robin", "round-robin", "critical-path-first", "SRWF"])
def test_aliases_are_normalised(alias):
    assert spec(alias, "spark").name in {"fair", "cpf", "srwf"}


def test_unknown_name_suggests_and_lists():
    with pytest.raises(UnknownNameError) as e:
        spec("fari", "spark")
    msg = str(e.value)
    assert "Did you mean 'fair'?" in msg and "fifo, fair, random, srwf, srwf-tuned, srwf-capped, cpf, rollout" in msg


def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register(SchedulerSpec("Fair", "spark", "schedlab.families.spark.schedulers:RoundRobin"))


def test_module_path_and_bad_paths():
    assert isinstance(make("schedlab.families.spark.schedulers:RoundRobin", "spark"), RoundRobin)
    with pytest.raises(ConfigError, match="has no attribute 'Nope'"):
        make("schedlab.families.spark.schedulers:Nope", "spark")
    with pytest.raises(ConfigError, match="no such file"):
        make("missing_file.py:X", "spark")


def test_params_round_trip():
    s = make("fifo", "spark")
    assert s.get_params() == {"dynamic_partition": False}
    assert type(s)(**s.get_params()).get_params() == s.get_params()
    assert repr(s) == "RoundRobin(dynamic_partition=False)"


def test_each_family_has_a_default():
    from schedlab.plugins import names as family_names
    from schedlab.schedulers import default_name

    defaults = {family: default_name(family) for family in family_names()}
    assert defaults["spark"] == "fair"
    assert all(name in names(family) for family, name in defaults.items())


def test_a_scheduler_whose_packages_are_missing_says_so_in_one_line():
    from schedlab.testing import iter_checks

    s = SchedulerSpec(
        "needs-x", "spark", "schedlab.families.spark.schedulers:RoundRobin", requires=("numpy", "no_such_pkg_x")
    )
    assert s.missing() == ["no_such_pkg_x"]
    with pytest.raises(ConfigError, match=r"needs-x needs no_such_pkg_x \(not installed\): pip install"):
        s.load()
    cases = list(iter_checks([s]))
    assert cases and all(c.skip == "needs-x needs no_such_pkg_x, not installed here" for c in cases)
    assert SchedulerSpec("ok", "spark", "schedlab.families.spark.schedulers:RoundRobin", requires=("numpy",)).load()


def test_compare_and_sweeps_run_by_default_only_what_needs_no_optional_package():
    from schedlab.schedulers import default_names

    assert "netllm" in names("spark") and spec("netllm", "spark").requires
    assert default_names("spark") == [n for n in names("spark") if n != "netllm"]
