"""Pure billing logic: no I/O, no clock reads, no globals. Functions over plain data."""
