"""Spellings of numbers that users send and Stockroom refuses (app/inputs.py): the
unit tests of the parser and the integration tests of every place numbers arrive."""

# Spellings int() would take (or choke on) that a form, header or query refuses.
BAD_SPELLINGS = [
    "+7",
    " 5 ",
    "5 ",
    "1_000",
    "\u0663",  # ARABIC-INDIC DIGIT THREE
    "\u00b2",  # SUPERSCRIPT TWO: str.isdigit() says yes, int() says no
    "\uff11\uff12",  # FULLWIDTH 12
    "inf",
    "nan",
    "1e3",
    "0x10",
    "1.0",
    "-",
    "--1",
]
HUGE = ["9" * 20, "9" * 400, "-" + "9" * 400, "9" * 5000]
