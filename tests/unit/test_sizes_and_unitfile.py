import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_size, parse_size
from gpuagent.core.unitfile import UnitFile, UnsafeValue, escape_value


@pytest.mark.parametrize(
    "text, size",
    [("512m", 512 * 1024**2), ("32g", 32 * 1024**3), ("20GiB", 20 * 1024**3), ("1.5G", 3 * 1024**3 // 2), ("2GB", 2 * 1024**3), ("4096", 4096)],
)
def test_sizes_read_like_docker(text, size):
    assert parse_size(text, option="--memory") == size


@pytest.mark.parametrize("text", ["0", "0g", "-1g", "lots", "1.2.3g", "5x", ""])
def test_bad_sizes_name_the_option(text):
    with pytest.raises(InvalidInput, match="--memory"):
        parse_size(text, option="--memory")


@pytest.mark.parametrize("size", [512 * 1024**2, 20 * 1024**3, 3 * 1024**3 // 2, 1000])
def test_format_size_reads_back(size):
    assert abs(parse_size(format_size(size), option="x") - size) / size < 0.05


def test_percent_is_escaped_so_systemd_takes_it_literally():
    assert escape_value("50%") == "50%%"
    text = UnitFile().add("Unit", "Description", "job %i 100%").render()
    assert "Description=job %%i 100%%" in text


@pytest.mark.parametrize("value", ["a\nExecStart=/bin/sh", "a\rb", "a\x00b"])
def test_control_characters_cannot_add_keys(value):
    with pytest.raises(UnsafeValue):
        UnitFile().add("Unit", "Description", value)


def test_sections_keep_their_order_and_repeated_keys():
    unit = UnitFile(header=["generated"])
    unit.add("Timer", "OnCalendar", "Mon *-*-* 02:00:00").add("Timer", "OnCalendar", "*-*-01 02:00:00")
    unit.add("Install", "WantedBy", "timers.target")
    assert unit.render() == (
        "# generated\n\n[Timer]\nOnCalendar=Mon *-*-* 02:00:00\nOnCalendar=*-*-01 02:00:00\n\n[Install]\nWantedBy=timers.target\n"
    )
