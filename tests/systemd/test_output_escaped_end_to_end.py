"""A run that prints terminal escape sequences, through a real journal: `trigger --wait`,
`logs` (and -n, --since) and `history --run` show each control character written out
(`\\x1b[31m`), never raw, and keep the text around it. (Each surface in-process, and the
notifications and the report, are tests/unit/test_run_output_shown_escaped.py.)"""

import re

from tests.support.boxed import gpuagent, runs

# colour, a window title (OSC ended by BEL), a hyperlink (OSC 8 ended by ST), backspaces
# over text, a C1 CSI (U+009B, as UTF-8), then a tab kept as it is
PRINTS = r"printf '\033[31mred\033[0m\n\033]0;owned\007title\n\033]8;;http://x\033\\link\033]8;;\033\\\nsafe\010\010\010\010evil\n\302\23331mc1\n\tindented\n'; exit 3"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
WRITTEN_OUT = ["\\x1b[31mred\\x1b[0m", "\\x1b]0;owned\\x07title", "safe\\x08\\x08\\x08\\x08evil", "\\x9b31mc1"]


def assert_written_out(shown: str) -> None:
    assert not CONTROL.search(shown), repr(CONTROL.search(shown)[0])
    for text in WRITTEN_OUT:
        assert text in shown, (text, shown)


def test_a_runs_escape_sequences_are_shown_written_out(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "hostile", "--at", "05:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", PRINTS)

    followed = gpuagent(box, "trigger", "hostile", "--wait", check=False)
    assert followed.returncode == 1, followed.stderr
    assert_written_out(followed.stdout)

    [run] = runs(box, "hostile")
    assert run.status == "failed" and "\x1b[31m" in (run.log_tail or ""), "history keeps what was printed, as it was"
    for args in (["logs", "hostile"], ["logs", "hostile", "--run", run.run_id], ["logs", "hostile", "-n", "100", "--since", "1h"]):
        shown = gpuagent(box, *args).stdout
        assert_written_out(shown)
        assert "\tindented" in shown, "a tab is shown as it is"
    assert_written_out(gpuagent(box, "history", "--run", run.run_id).stdout)
