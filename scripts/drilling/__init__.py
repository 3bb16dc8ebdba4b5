"""The fault drill behind `scripts/drill`: real node processes, a steady load of unique signed writes, one
nemesis after another, and a row of figures per nemesis. See docs/reliability.md."""
