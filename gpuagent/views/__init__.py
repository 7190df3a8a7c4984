"""How results look: as text (on a terminal with Rich, or plain) and as JSON."""
